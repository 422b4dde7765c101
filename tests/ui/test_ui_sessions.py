"""Sessions end on the server: a signed-out cookie is dead everywhere, not only deleted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from tests.ui.conftest import csrf_of, sign_in

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app
from promptvault.server.ui.session import SESSION_COOKIE


def _with_cookie(app: FastAPI, value: str) -> TestClient:
    client = TestClient(app)
    client.cookies.set(SESSION_COOKIE, value)
    return client


def cookie_session_id(app: FastAPI, cookie: str) -> str:
    session = app.state.ui.codec.read(cookie)
    assert session is not None
    return str(session.nonce)


def _sign_out(client: TestClient) -> None:
    page = client.get("/")
    answer = client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert answer.status_code == 303


def test_a_copied_cookie_stops_working_after_sign_out(app: FastAPI, keys: dict[str, str]) -> None:
    client = sign_in(TestClient(app), keys["editor"])
    stolen = client.cookies[SESSION_COOKIE]
    assert _with_cookie(app, stolen).get("/", follow_redirects=False).status_code == 200
    _sign_out(client)
    replay = _with_cookie(app, stolen).get("/", follow_redirects=False)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/login")
    # Signing out one session leaves the key's other sessions alone.
    other = sign_in(TestClient(app), keys["editor"])
    assert other.get("/", follow_redirects=False).status_code == 200


@pytest.fixture
def two_servers(database_url: str, tmp_path: object) -> Iterator[tuple[FastAPI, FastAPI]]:
    """Two apps on one database with one session secret and no cache (TTL 0)."""
    settings = Settings(database_url=database_url, session_secret="s" * 32, label_ttl=0)
    first, second = Vault(settings), Vault(settings)
    yield create_app(first), create_app(second)
    first.close()
    second.close()


def test_sign_out_on_one_server_ends_the_session_on_another(
    two_servers: tuple[FastAPI, FastAPI],
) -> None:
    one, two = two_servers
    key = one.state.keys.create("viewer-key", "viewer", actor="setup")[0]
    client = sign_in(TestClient(one), key)
    cookie = client.cookies[SESSION_COOKIE]
    assert _with_cookie(two, cookie).get("/", follow_redirects=False).status_code == 200
    _sign_out(client)
    assert _with_cookie(two, cookie).get("/", follow_redirects=False).status_code == 303


def test_revoking_a_key_ends_its_sessions_on_every_server(
    two_servers: tuple[FastAPI, FastAPI],
) -> None:
    one, two = two_servers
    key = one.state.keys.create("editor-key", "editor", actor="setup")[0]
    cookie = sign_in(TestClient(one), key).cookies[SESSION_COOKIE]
    assert _with_cookie(two, cookie).get("/", follow_redirects=False).status_code == 200
    one.state.keys.revoke("editor-key", actor="test")
    # Ended in the database itself, not only refused while the key is known revoked.
    assert two.state.ui.sessions.key_of(cookie_session_id(two, cookie)) is None
    two.state.ui.forget_keys()
    assert _with_cookie(two, cookie).get("/", follow_redirects=False).status_code == 303
