"""Change events through the server: ``GET /v1/events/changes``, both SDKs and the CLI."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.testclient import TestClient
from typer.testing import CliRunner

from promptvault import Vault
from promptvault.client import AsyncPromptVaultClient, PromptVaultClient
from promptvault.config import Settings
from promptvault.server.app import create_app
from waiting import wait_until


@pytest.fixture
def vault(sqlite_url: str) -> Iterator[Vault]:
    v = Vault(Settings(database_url=sqlite_url))
    for name in ("team/a", "team/b", "other"):
        v.push(name, template="Hello {{name}}", author="alice")
    v.push("team/a", template="Hi {{name}}", author="alice")
    v.set_label("team/a", "production", 2, actor="bob")
    yield v
    v.close()


@pytest.fixture
def app(vault: Vault) -> FastAPI:
    return create_app(vault)


@pytest.fixture
def runtime_key(app: FastAPI) -> str:
    plaintext: str = app.state.keys.create("app", "runtime")[0]
    return plaintext


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_http_pages_in_order_with_a_cursor(app: FastAPI, runtime_key: str, vault: Vault) -> None:
    with TestClient(app) as client:
        first = client.get("/v1/events/changes?limit=3", headers=_bearer(runtime_key)).json()
        assert [e["id"] for e in first["items"]] == [1, 2, 3]
        assert first["cursor"] == 3 and first["last_id"] == 8
        rest = client.get(
            f"/v1/events/changes?after={first['cursor']}", headers=_bearer(runtime_key)
        ).json()
        assert [e["id"] for e in rest["items"]] == [4, 5, 6, 7, 8]
        moved = rest["items"][-1]
        assert moved["type"] == "label.moved" and moved["actor"] == "bob"
        assert moved["payload"] == {
            "prompt": "team/a",
            "label": "production",
            "old_version": 1,
            "new_version": 2,
        }
        only = client.get("/v1/events/changes?prefix=other", headers=_bearer(runtime_key))
        assert {e["prompt"] for e in only.json()["items"]} == {"other"}
        bad = client.get("/v1/events/changes?after=-1", headers=_bearer(runtime_key))
        assert bad.status_code == 422
        assert bad.json()["error"]["details"]["field"] == "after"
        big = client.get("/v1/events/changes?limit=5000", headers=_bearer(runtime_key))
        assert big.json()["error"]["details"]["field"] == "limit"


def test_async_sdk_reads_changes(app: FastAPI, runtime_key: str) -> None:
    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with AsyncPromptVaultClient(
            "http://promptvault.test", runtime_key, transport=transport
        ) as pv:
            events = await pv.events.changes(after=2)
            assert [e.id for e in events] == [3, 4, 5, 6, 7, 8]
            assert await pv.events.last_id() == 8
            team = await pv.events.changes(prefix="team/", limit=2)
            assert [e.prompt for e in team] == ["team/a", "team/a"]

    asyncio.run(scenario())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live(app: FastAPI) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="uvicorn to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_sync_sdk_pages_past_its_page_size(
    live: str, runtime_key: str, vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    import promptvault.client._changes_sync as changes

    monkeypatch.setattr(changes, "PAGE", 2)  # several round trips for one answer
    with PromptVaultClient(live, runtime_key) as pv:
        events = pv.events.changes(limit=7)
        assert [e.id for e in events] == [1, 2, 3, 4, 5, 6, 7]
        assert [e.id for e in pv.events.changes(after=6)] == [7, 8]


def test_cli_tails_the_database_and_the_server(
    live: str, runtime_key: str, vault: Vault, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptvault.cli import app as cli

    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    local = run("--db", sqlite_url, "events", "tail", "-n", "2")
    assert local.exit_code == 0, local.output
    lines = local.stdout.splitlines()
    assert len(lines) == 2 and "production: v1 -> v2" in lines[-1] and "by bob" in lines[-1]
    monkeypatch.setenv("PROMPTVAULT_API_KEY", runtime_key)
    remote = run("--server", live, "events", "tail", "--after", "0", "--json")
    assert remote.exit_code == 0, remote.output
    ids = [json.loads(line)["id"] for line in remote.stdout.splitlines()]
    assert ids == [1, 2, 3, 4, 5, 6, 7, 8]
    filtered = run("--db", sqlite_url, "events", "tail", "--prefix", "other", "--json")
    assert [json.loads(x)["prompt"] for x in filtered.stdout.splitlines()] == ["other", "other"]
