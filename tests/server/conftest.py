"""Server fixtures: a Vault on a real database, the ASGI app in process, one key per role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app

ROLES = ("runtime", "viewer", "editor", "admin")


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def vault(database_url: str) -> Iterator[Vault]:
    """A Vault on SQLite and on PostgreSQL."""
    v = Vault(Settings(database_url=database_url))
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
def admin(client: TestClient, keys: dict[str, str]) -> TestClient:
    """The client with the admin key set."""
    client.headers.update(bearer(keys["admin"]))
    return client
