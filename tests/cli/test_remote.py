"""Remote mode: the same commands against a real server on a loopback port."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app

GREET = """
syntax: jinja
template: "Hello {{ name }}!"
"""


@pytest.fixture
def server(sqlite_url: str) -> Iterator[tuple[str, str]]:
    """A real uvicorn server in a thread, its URL and an admin API key."""
    vault = Vault(Settings(database_url=sqlite_url))
    app = create_app(vault)
    key = app.state.keys.create("ci-key", "admin", actor="setup")[0]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", key
    finally:
        srv.should_exit = True
        thread.join(10)
        vault.close()


def test_commands_work_through_a_server(
    cli: Any, write: Any, server: tuple[str, str], monkeypatch: pytest.MonkeyPatch, home: Any
) -> None:
    url, key = server
    monkeypatch.setenv("PROMPTVAULT_URL", url)
    monkeypatch.setenv("PROMPTVAULT_API_KEY", key)
    write("prompts/greet.yaml", GREET)

    pushed = cli("push")
    assert pushed.exit_code == 0, pushed.stderr
    assert pushed.stdout.splitlines()[1].split()[:3] == ["greet", "created", "v1"]
    assert cli("push").stdout.endswith("0 created, 1 unchanged\n")
    write("prompts/greet.yaml", GREET.replace("Hello", "Hi"))
    assert cli("push", "-l", "staging").exit_code == 0

    assert cli("render", "greet", "--var", "name=Ada").stdout == "Hello Ada!\n"
    assert cli("promote", "greet", "2").stdout == "greet: production v1 -> v2\n"
    assert cli("render", "greet", "--var", "name=Ada").stdout == "Hi Ada!\n"
    assert cli("rollback", "greet").stdout == "greet: production v2 -> v1\n"
    shown = json.loads(cli("show", "greet@2", "--json").stdout)
    assert shown["author"] == "ci-key"  # the server names the key, not the login
    assert json.loads(cli("list", "--json").stdout)[0]["labels"] == {
        "production": 1,
        "staging": 2,
    }
    assert cli("pull", "--check").exit_code == 1  # the file holds v2, production is v1

    audit = cli("audit", "log")
    assert audit.exit_code == 1
    assert audit.stderr.startswith("error: audit log works on a database, not through a server")
    assert not (home / "promptvault.db").exists()  # nothing local was opened


def test_explicit_db_wins_over_the_server_setting(
    cli: Any, write: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("PROMPTVAULT_URL", "http://127.0.0.1:9")  # nothing listens there
    write("prompts/greet.yaml", GREET)
    result = cli("--db", f"sqlite:///{tmp_path / 'x.db'}", "push")
    assert result.exit_code == 0, result.stderr
