"""Several servers on one database behave as one: label moves are seen within the label TTL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app

from .conftest import FakeClock, bearer


@pytest.fixture
def pair(database_url: str) -> Iterator[tuple[TestClient, TestClient, FakeClock]]:
    clock = FakeClock()
    settings = Settings(database_url=database_url, label_ttl=2.0)
    one, two = Vault(settings, clock=clock), Vault(settings, clock=clock)
    app_one, app_two = create_app(one), create_app(two)
    key = app_one.state.keys.create("ops", "admin")[0]
    with (
        TestClient(app_one, headers=bearer(key)) as a,
        TestClient(app_two, headers=bearer(key)) as b,
    ):
        yield a, b, clock
    one.close()
    two.close()


def test_label_move_on_one_server_is_seen_by_the_other_within_ttl(
    pair: tuple[TestClient, TestClient, FakeClock],
) -> None:
    a, b, clock = pair
    a.post("/v1/prompts/support/versions", json={"template": "one"})
    a.post("/v1/prompts/support/versions", json={"template": "two"})
    assert b.get("/v1/prompts/support/resolve").json()["version"] == 1  # b caches production
    assert a.put("/v1/prompts/support/labels/production", json={"version": 2}).status_code == 200
    assert a.get("/v1/prompts/support/resolve").json()["version"] == 2  # the writer: at once
    clock.advance(2.1)
    assert b.get("/v1/prompts/support/resolve").json()["version"] == 2  # the other: within TTL
    # A key created on one server authenticates on the other.
    made = a.post("/v1/keys", json={"name": "svc", "role": "runtime"}).json()["key"]
    assert b.get("/v1/prompts/support/resolve", headers=bearer(made)).status_code == 200
