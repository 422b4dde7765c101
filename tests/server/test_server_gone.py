"""Through the server: an archived prompt, a removed label or a moved label is answered as
it is now, on ``/v1`` and on the Langfuse-compatible GET, by the server that made the
change and by another server process sharing the database, whose caches hold pointers for
an hour here and are corrected by the change events it follows from its start."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app
from waiting import wait_until

from .conftest import bearer
from .test_langfuse_api import BASE, basic

HOUR = 3600.0


@pytest.fixture
def pair(database_url: str) -> Iterator[tuple[TestClient, TestClient, Vault, str]]:
    """Two server processes' apps on one database (started: each follows the events)."""
    settings = Settings(database_url=database_url, label_ttl=HOUR, stream_poll_interval=0.05)
    first, second = Vault(settings), Vault(settings)
    first.push("p", template="one {{x}}", author="setup")
    first.push("p", template="two {{x}}", author="setup", labels=["staging"])
    app_a, app_b = create_app(first), create_app(second)
    key = app_a.state.keys.create("admin", "admin", actor="setup")[0]
    with TestClient(app_a) as a, TestClient(app_b) as b:
        a.headers.update(bearer(key))
        b.headers.update(bearer(key))
        yield a, b, first, key
    first.close()
    second.close()


def _resolve(client: TestClient, query: str = "") -> Any:
    return client.get(f"/v1/prompts/p/resolve{query}")


def _langfuse(client: TestClient, key: str, query: str = "") -> Any:
    return client.get(f"{BASE}/p{query}", headers=basic(key))


def _warm(client: TestClient, key: str) -> None:
    assert _resolve(client).json()["version"] == 1
    assert _resolve(client, "?label=staging").json()["version"] == 2
    assert _resolve(client, "?version=1").json()["version"] == 1
    assert _langfuse(client, key).json()["version"] == 1
    assert _langfuse(client, key, "?label=staging").json()["version"] == 2


def test_an_archived_prompt_is_not_found_on_both_servers(
    pair: tuple[TestClient, TestClient, Vault, str],
) -> None:
    a, b, _, key = pair
    for client in (a, b):
        _warm(client, key)
    assert a.delete("/v1/prompts/p").json()["archived"] is True
    for client in (a, b):

        def gone(client: TestClient = client) -> bool:
            return _resolve(client).status_code == 404

        wait_until(gone, what="the archive to reach the server")
        for query in ("", "?label=staging", "?version=1"):
            answer = _resolve(client, query)
            assert answer.status_code == 404
            error = answer.json()["error"]
            assert error["code"] == "prompt_not_found"
            assert error["details"] == {"name": "p", "archived": True}
        rendered = client.post("/v1/prompts/p/render", json={"variables": {"x": "a"}})
        assert rendered.status_code == 404
        assert rendered.json()["error"]["code"] == "prompt_not_found"
        for query in ("", "?label=staging", "?version=1"):
            answer = _langfuse(client, key, query)
            assert answer.status_code == 404
            assert answer.json()["error"] == "LangfuseNotFoundError"
        # The registry's own view of it stays.
        assert client.get("/v1/prompts/p").json()["archived"] is True
    pair[2].unarchive("p", actor="setup")
    for client in (a, b):

        def back(client: TestClient = client) -> bool:
            return _resolve(client).status_code == 200

        wait_until(back, what="the unarchive to reach the server")
        assert _langfuse(client, key).json()["version"] == 1


def test_a_removed_label_is_not_found_on_both_servers(
    pair: tuple[TestClient, TestClient, Vault, str],
) -> None:
    a, b, _, key = pair
    for client in (a, b):
        _warm(client, key)
    assert a.delete("/v1/prompts/p/labels/staging").status_code == 200
    for client in (a, b):

        def gone(client: TestClient = client) -> bool:
            return _resolve(client, "?label=staging").status_code == 404

        wait_until(gone, what="the removal to reach the server")
        assert _resolve(client, "?label=staging").json()["error"]["code"] == "label_not_found"
        answer = _langfuse(client, key, "?label=staging")
        assert answer.status_code == 404
        assert answer.json()["error"] == "LangfuseNotFoundError"
        assert _langfuse(client, key).json()["labels"] == ["production"]


def test_the_langfuse_get_follows_a_move_made_on_any_route(
    pair: tuple[TestClient, TestClient, Vault, str],
) -> None:
    a, b, _, key = pair
    for client in (a, b):
        _warm(client, key)
    # Moved through /v1 on server A: its Langfuse GET answers the move at once.
    assert a.put("/v1/prompts/p/labels/production", json={"version": 2}).status_code == 200
    moved = _langfuse(a, key)
    assert moved.json()["version"] == 2
    assert moved.json()["labels"] == ["production", "staging", "latest"]
    assert _langfuse(a, key, "?version=1").json()["labels"] == []

    def on_b() -> bool:
        return _langfuse(b, key).json()["version"] == 2

    wait_until(on_b, what="the move to reach server B's Langfuse GET")
    assert _resolve(b).json()["version"] == 2
    assert _langfuse(b, key, "?version=1").json()["labels"] == []
