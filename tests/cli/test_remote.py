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
    assert cli("get", "greet@2").stdout == "greet v2  (staging)\n\nHi {{ name }}!\n"
    got = json.loads(cli("get", "greet", "--json").stdout)
    assert (got["version"], got["labels"], got["template"]) == (
        1,
        ["production"],
        "Hello {{ name }}!",
    )
    assert json.loads(cli("list", "--json").stdout)[0]["labels"] == {
        "production": 1,
        "staging": 2,
    }
    assert cli("pull", "--check").exit_code == 1  # the file holds v2, production is v1

    moves = json.loads(cli("label", "history", "greet", "--json").stdout)
    assert [(m["label"], m["to_version"], m["action"]) for m in moves] == [
        ("production", 1, "rollback"),
        ("production", 2, "set"),
        ("staging", 2, "set"),
        ("production", 1, "set"),
    ]
    assert not (home / "promptvault.db").exists()  # nothing local was opened


def test_audit_works_through_a_server(
    cli: Any, write: Any, server: tuple[str, str], monkeypatch: pytest.MonkeyPatch, home: Any
) -> None:
    url, key = server
    monkeypatch.setenv("PROMPTVAULT_URL", url)
    monkeypatch.setenv("PROMPTVAULT_API_KEY", key)
    write("prompts/greet.yaml", GREET)
    assert cli("push").exit_code == 0
    assert cli("promote", "greet", "1", "--to", "qa").exit_code == 0

    logged = cli("audit", "log", "--json")
    assert logged.exit_code == 0, logged.stderr
    entries = json.loads(logged.stdout)
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("key.create", "setup"),
        ("prompt.push", "ci-key"),
        ("label.set", "ci-key"),
        ("label.set", "ci-key"),
    ]
    moves = json.loads(cli("audit", "log", "--action", "label.", "-n", "1", "--json").stdout)
    assert [e["details"].get("label") for e in moves] == ["production"]
    table = cli("audit", "log", "--actor", "ci-key")
    assert "prompt.push" in table.stdout and "key.create" not in table.stdout

    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified.stderr
    assert verified.stdout == "audit chain ok: 4 entries verified\n"
    assert not (home / "promptvault.db").exists()  # nothing local was opened


def test_local_only_commands_say_so_through_a_server(
    cli: Any, server: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    url, key = server
    monkeypatch.setenv("PROMPTVAULT_URL", url)
    monkeypatch.setenv("PROMPTVAULT_API_KEY", key)
    result = cli("export", str(tmp_path / "out.json"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: export works on a database, not through a server")


def test_explicit_db_wins_over_the_server_setting(
    cli: Any, write: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("PROMPTVAULT_URL", "http://127.0.0.1:9")  # nothing listens there
    write("prompts/greet.yaml", GREET)
    result = cli("--db", f"sqlite:///{tmp_path / 'x.db'}", "push")
    assert result.exit_code == 0, result.stderr
