"""Failed authentication: token buckets per client and per key id, 429, aggregate audit."""

from __future__ import annotations

import secrets

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from tests.server.conftest import FakeClock, bearer
from tests.ui.conftest import csrf_of

from promptvault import Vault
from promptvault.server.ratelimit import AuthGuard

BURST = 20  # the default PROMPTVAULT_AUTH_FAILURE_BURST


def _bad_key() -> str:
    return f"pv_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def _from(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000))


@pytest.fixture
def clock(app: FastAPI) -> FakeClock:
    fake = FakeClock()
    guard: AuthGuard = app.state.auth_guard
    guard.clock = fake
    guard.flush(force=True)  # a fresh window on the fake clock
    return fake


def test_bad_keys_from_one_client_get_429_with_retry_after(
    app: FastAPI, keys: dict[str, str], clock: FakeClock
) -> None:
    attacker = _from(app, "203.0.113.7")
    statuses = [
        attacker.get("/v1/prompts", headers=bearer(_bad_key())).status_code
        for _ in range(BURST + 5)
    ]
    assert statuses == [401] * BURST + [429] * 5
    limited = attacker.get("/v1/prompts/x/resolve", headers=bearer(_bad_key()))  # fast path
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    # Another client is not affected; the attacker gets tokens back with time.
    assert (
        _from(app, "198.51.100.1").get("/v1/prompts", headers=bearer(keys["viewer"])).status_code
        == 200
    )
    clock.advance(int(limited.headers["retry-after"]))
    assert attacker.get("/v1/prompts", headers=bearer(keys["viewer"])).status_code == 200


def test_guessing_one_key_id_from_many_addresses_is_limited_by_key_id(
    app: FastAPI, keys: dict[str, str], clock: FakeClock
) -> None:
    key_id = keys["admin"].split("_")[1]
    statuses = [
        _from(app, f"192.0.2.{i}")
        .get("/v1/prompts", headers=bearer(f"pv_{key_id}_{secrets.token_urlsafe(32)}"))
        .status_code
        for i in range(BURST + 3)
    ]
    assert statuses == [401] * BURST + [429] * 3


def test_failures_are_audited_once_per_window_in_aggregate(
    app: FastAPI, vault: Vault, clock: FakeClock
) -> None:
    attacker = _from(app, "203.0.113.9")
    for _ in range(BURST + 10):
        attacker.get("/v1/prompts", headers=bearer(_bad_key()))
    assert [e for e in vault.audit.entries() if e.action == "auth.failures"] == []
    clock.advance(61)  # the window is over: the next failure writes the summary
    _from(app, "198.51.100.2").get("/v1/prompts", headers=bearer(_bad_key()))
    entries = [e for e in vault.audit.entries() if e.action == "auth.failures"]
    assert len(entries) == 1
    details = entries[0].details
    assert details["failures"] == BURST + 1
    assert details["refused"] == 10
    assert details["clients"]["203.0.113.9"] == BURST


def test_ui_sign_in_failures_are_limited_too(
    app: FastAPI, keys: dict[str, str], clock: FakeClock
) -> None:
    browser = _from(app, "203.0.113.20")
    statuses = []
    for _ in range(BURST + 2):
        form = browser.get("/login")
        answer = browser.post(
            "/login",
            data={"api_key": _bad_key(), "csrf": csrf_of(form.text), "next": "/"},
            follow_redirects=False,
        )
        statuses.append(answer.status_code)
    assert statuses == [401] * BURST + [429] * 2
    assert int(answer.headers["retry-after"]) >= 1
    assert "Too many failed sign-ins" in answer.text
