"""API keys: rotation with a grace period, expiry with a clear 401, last-used time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.errors import ConflictError, InvalidInputError, UnauthenticatedError
from promptvault.registry.keys import KeyService

from .conftest import FakeClock, bearer


def _set(vault: Vault, column: str, value: datetime | None, key_id: str) -> None:
    with vault.db.engine.connect() as conn:
        conn.execute(
            text(f"UPDATE api_keys SET {column} = :v WHERE key_id = :k"),
            {"v": value.replace(tzinfo=None) if value else None, "k": key_id},
        )
        conn.commit()


def _past() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=1)


def test_rotation_keeps_both_keys_for_the_grace_period(vault: Vault) -> None:
    keys = KeyService(vault.db, cache_ttl=0, rotation_grace=3600)
    old_plain, old = keys.create("ci", "editor", actor="alice")
    new_plain, new, replaced = keys.rotate("ci", actor="alice")
    assert (new.name, new.role, replaced.id, replaced.replaced_by) == (
        "ci",
        "editor",
        old.id,
        new.id,
    )
    assert replaced.expires_at is not None
    assert timedelta(minutes=59) < replaced.expires_at - datetime.now(UTC) <= timedelta(hours=1)
    assert keys.authenticate(old_plain).id == old.id
    assert keys.authenticate(new_plain).id == new.id
    assert {k.id: k.state for k in keys.list()} == {old.id: "rotating", new.id: "active"}
    # The grace period ends (moved into the past in SQL instead of waiting an hour).
    _set(vault, "expires_at", _past(), old.id)
    with pytest.raises(UnauthenticatedError, match=r"replaced by .* grace period ended"):
        keys.authenticate(old_plain)
    assert keys.authenticate(new_plain).id == new.id
    assert [k.id for k in keys.list()] == [new.id]
    rotate = vault.audit.entries(action="key.rotate")[-1]
    assert (rotate.actor, rotate.details["replaces"], rotate.details["id"]) == (
        "alice",
        old.id,
        new.id,
    )


def test_rotation_with_no_grace_stops_the_old_key_at_once(vault: Vault) -> None:
    keys = KeyService(vault.db, cache_ttl=60, clock=FakeClock())
    old_plain, _ = keys.create("ci", "runtime")
    keys.authenticate(old_plain)  # now cached for a minute
    new_plain, _, _ = keys.rotate("ci", grace=0)
    with pytest.raises(UnauthenticatedError, match="grace period ended"):
        keys.authenticate(old_plain)
    assert keys.authenticate(new_plain).name == "ci"


def test_rotating_twice_and_revoking_by_name(vault: Vault) -> None:
    keys = KeyService(vault.db, cache_ttl=0)
    first_plain, first = keys.create("ci", "runtime")
    _, second, _ = keys.rotate("ci")
    with pytest.raises(ConflictError, match="already rotated"):
        keys.rotate(first.id)
    third_plain, third, replaced = keys.rotate("ci")  # by name: the current key
    assert replaced.id == second.id
    keys.revoke("ci", actor="alice")  # every live key of that name, in grace or not
    for plain in (first_plain, third_plain):
        with pytest.raises(UnauthenticatedError, match="revoked"):
            keys.authenticate(plain)
    assert keys.list() == []
    assert {k.id for k in keys.list(include_revoked=True)} == {first.id, second.id, third.id}


def test_rotation_keeps_the_lifetime(vault: Vault) -> None:
    keys = KeyService(vault.db)
    keys.create("ci", "runtime", expires_at=datetime.now(UTC) + timedelta(days=30))
    _, new, _ = keys.rotate("ci")
    assert new.expires_at is not None
    assert timedelta(days=29, hours=23) < new.expires_at - datetime.now(UTC) <= timedelta(days=30)


def test_expired_key_gets_a_clear_401(vault: Vault, app: FastAPI, client: TestClient) -> None:
    keys: KeyService = app.state.keys
    plain, record = keys.create(
        "nightly", "viewer", expires_at=datetime.now(UTC) + timedelta(days=1)
    )
    assert client.get("/v1/prompts", headers=bearer(plain)).status_code == 200
    keys._forget({record.id})  # what cache_ttl does on its own a moment later
    _set(vault, "expires_at", _past(), record.id)
    answer = client.get("/v1/prompts", headers=bearer(plain))
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["code"] == "unauthenticated"
    assert "API key 'nightly'" in error["message"] and "expired at" in error["message"]
    assert error["details"]["reason"] == "expired"
    assert keys.list() == []
    assert [k.state for k in keys.list(include_revoked=True)] == ["expired"]
    # An expired name can be taken again (an expired admin key is replaced at start too).
    keys.create("nightly", "viewer")


def test_expiry_must_be_in_the_future(vault: Vault) -> None:
    keys = KeyService(vault.db)
    with pytest.raises(InvalidInputError, match="not in the future") as info:
        keys.create("ci", "runtime", expires_at=_past())
    assert info.value.details["field"] == "expires_at"
    with pytest.raises(InvalidInputError, match="time zone"):
        keys.create("ci", "runtime", expires_at=datetime(2099, 1, 1))


def test_last_used_is_written_at_most_once_a_minute(vault: Vault) -> None:
    clock = FakeClock()
    keys = KeyService(vault.db, cache_ttl=2, clock=clock)
    plain, record = keys.create("ci", "runtime")
    assert keys.list()[0].last_used_at is None
    keys.authenticate(plain)
    keys.flush_usage()
    first = keys.list()[0].last_used_at
    assert first is not None
    _set(vault, "last_used_at", first - timedelta(seconds=30), record.id)
    clock.advance(30)
    keys.authenticate(plain)  # within the minute: nothing queued
    keys.flush_usage()
    assert keys.list()[0].last_used_at == first - timedelta(seconds=30)
    # A minute later (here and in the database: another server wrote 2 minutes ago).
    _set(vault, "last_used_at", first - timedelta(minutes=2), record.id)
    clock.advance(31)
    assert keys.cached(plain) is None  # the cache expired long ago
    keys.authenticate(plain)
    keys.flush_usage()
    latest = keys.list()[0].last_used_at
    assert latest is not None and latest >= first


def test_last_used_is_recorded_for_server_requests(
    vault: Vault, app: FastAPI, client: TestClient, keys: dict[str, str]
) -> None:
    assert client.get("/v1/prompts", headers=bearer(keys["viewer"])).status_code == 200
    service: KeyService = app.state.keys
    deadline = time.monotonic() + 30
    while True:  # written by the background thread
        used = {k.name: k.last_used_at for k in service.list()}
        if used["viewer-key"] is not None:
            break
        assert time.monotonic() < deadline, used
        time.sleep(0.05)
    admin = bearer(keys["admin"])
    listed = client.get("/v1/keys", headers=admin).json()["items"]
    viewer = next(k for k in listed if k["name"] == "viewer-key")
    assert viewer["last_used_at"] is not None and viewer["expires_at"] is None


def test_http_create_with_expiry_and_rotate(
    vault: Vault, client: TestClient, keys: dict[str, str]
) -> None:
    admin = bearer(keys["admin"])
    created = client.post(
        "/v1/keys", headers=admin, json={"name": "ci", "role": "editor", "expires_in": 86400}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["api_key"]["expires_at"] is not None
    both = client.post(
        "/v1/keys",
        headers=admin,
        json={
            "name": "x",
            "role": "editor",
            "expires_in": 3600,
            "expires_at": "2099-01-01T00:00:00Z",
        },
    )
    assert both.status_code == 422 and both.json()["error"]["details"]["field"] == "expires_in"
    rotated = client.post(
        f"/v1/keys/{body['api_key']['id']}/rotate", headers=admin, json={"grace": 600}
    )
    assert rotated.status_code == 201, rotated.text
    data = rotated.json()
    assert data["replaced"]["replaced_by"] == data["api_key"]["id"]
    for plain in (body["key"], data["key"]):
        assert client.get("/v1/prompts", headers=bearer(plain)).status_code == 200
    default = client.post("/v1/keys/ci/rotate", headers=admin)
    assert default.status_code == 201
    editor = client.post("/v1/keys/ci/rotate", headers=bearer(keys["editor"]))
    assert editor.status_code == 403
