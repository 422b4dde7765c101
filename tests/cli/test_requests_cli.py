"""``promptvault requests list|approve|reject``: on a local database and through a server."""

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


def test_local_requests_need_another_actor(
    cli: Any, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    monkeypatch.setenv("PROMPTVAULT_DATABASE_URL", sqlite_url)
    with Vault(Settings(database_url=sqlite_url)) as vault:
        vault.push("faq", template="one")
        vault.push("faq", template="two")
        vault.requests.request("faq", "production", 2, actor="tester", comment="ship it")
        vault.requests.request("faq", "staging", 2, actor="alice")
    listed = cli("requests", "list")
    assert listed.exit_code == 0
    assert "faq" in listed.stdout and "v1 -> v2" in listed.stdout and "ship it" in listed.stdout
    own = cli("requests", "approve", "1")  # PROMPTVAULT_ACTOR is "tester", who asked
    assert own.exit_code == 1 and "another person must approve" in own.stderr
    done = cli("--actor", "bob", "requests", "approve", "1", "-m", "read the diff")
    assert done.exit_code == 0, done.stderr
    assert done.stdout == "approved #1: production of faq now points at version 2\n"
    assert cli("requests", "reject", "2").stdout == "rejected #2: nothing moved\n"
    rows = json.loads(cli("requests", "list", "--all", "--json").stdout)
    assert [(r["id"], r["status"], r["decided_by"]) for r in rows] == [
        (2, "rejected", "tester"),
        (1, "approved", "bob"),
    ]
    with Vault(Settings(database_url=sqlite_url)) as vault:
        assert vault.labels("faq") == {"production": 2}


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[str, dict[str, str], Vault]]:
    vault = Vault(Settings(database_url=sqlite_url, approval_labels=["production"]))
    vault.push("faq", template="one")
    vault.push("faq", template="two")
    app = create_app(vault)
    keys = {n: app.state.keys.create(n, r, actor="setup")[0] for n, r in
            (("ed", "editor"), ("alice", "admin"))}  # fmt: skip
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", keys, vault
    finally:
        srv.should_exit = True
        thread.join(10)
        vault.close()


def test_remote_approval_uses_the_key_and_refuses_an_editor(
    cli: Any, monkeypatch: pytest.MonkeyPatch, served: tuple[str, dict[str, str], Vault]
) -> None:
    url, keys, vault = served
    vault.requests.request("faq", "production", 2, actor="ed")
    monkeypatch.setenv("PROMPTVAULT_URL", url)
    monkeypatch.setenv("PROMPTVAULT_API_KEY", keys["ed"])
    listed = json.loads(cli("requests", "list", "--json").stdout)
    assert [(r["id"], r["created_by"]) for r in listed] == [(1, "ed")]
    refused = cli("requests", "approve", "1")
    assert refused.exit_code == 1 and "approve" in refused.stderr
    monkeypatch.setenv("PROMPTVAULT_API_KEY", keys["alice"])
    done = cli("requests", "approve", "1", "--json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["decided_by"] == "alice"
    assert vault.labels("faq") == {"production": 2}
    missing = cli("requests", "reject", "99")
    assert missing.exit_code == 1 and "no change request #99" in missing.stderr
