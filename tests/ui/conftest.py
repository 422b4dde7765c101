"""UI fixtures: the app in process on a real SQLite file, keys per role, signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app

# The browser tests' module-scoped fixtures: a real server and Chromium per test module.
from .browser_kit import browser, new_page, server  # noqa: F401

ROLES = ("runtime", "viewer", "editor", "admin")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(html)
    assert match, "page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, key: str) -> TestClient:
    """Sign ``client`` in through the login form, as a browser would."""
    page = client.get("/login")
    assert page.status_code == 200
    response = client.post(
        "/login",
        data={"api_key": key, "csrf": csrf_of(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def vault(sqlite_url: str) -> Iterator[Vault]:
    v = Vault(Settings(database_url=sqlite_url))
    yield v
    v.close()


@pytest.fixture
def app(vault: Vault) -> FastAPI:
    return create_app(vault)


@pytest.fixture
def keys(app: FastAPI) -> dict[str, str]:
    """Plaintext key per role, named ``<role>-key``."""
    service = app.state.keys
    return {role: service.create(f"{role}-key", role, actor="setup")[0] for role in ROLES}


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def as_role(app: FastAPI, keys: dict[str, str]) -> Iterator[object]:
    """``as_role("editor")`` -> a client signed in with that role's key."""
    clients: list[TestClient] = []

    def make(role: str) -> TestClient:
        c = TestClient(app)
        c.__enter__()
        clients.append(c)
        return sign_in(c, keys[role])

    yield make
    for c in clients:
        c.__exit__(None, None, None)
