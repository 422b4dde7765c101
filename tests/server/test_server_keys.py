"""API keys: salted digests, one-time plaintext, revocation, audit, the first-start admin key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from promptvault import Vault
from promptvault.errors import ConflictError, InvalidInputError, NotFoundError, UnauthenticatedError
from promptvault.registry.keys import KeyService, parse_key
from promptvault.server.app import ADMIN_KEY_FILE, ensure_admin_key

from .conftest import FakeClock


def test_create_stores_only_a_salted_digest(vault: Vault) -> None:
    keys = KeyService(vault.db)
    plaintext, record = keys.create("ci", "editor", actor="alice")
    key_id, secret = parse_key(plaintext) or ("", "")
    assert plaintext.startswith("pv_") and record.id == key_id and record.prefix == f"pv_{key_id}"
    with vault.db.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM api_keys")).mappings().one()
    stored = " ".join(str(v) for v in row.values())
    assert secret not in stored and plaintext not in stored
    # Same secret under a different salt gives a different digest: salts are per key.
    other_plain, _ = keys.create("ci-2", "editor", actor="alice")
    with vault.db.engine.connect() as conn:
        salts = conn.execute(text("SELECT salt FROM api_keys")).scalars().all()
    assert len(set(salts)) == 2
    assert keys.authenticate(plaintext).name == "ci"
    assert keys.authenticate(other_plain).name == "ci-2"


def test_authenticate_rejects_bad_keys(vault: Vault) -> None:
    keys = KeyService(vault.db)
    plaintext, _ = keys.create("ci", "runtime")
    for bad in (
        None,
        "",
        "nope",
        plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B"),
        "pv_" + "0" * 12 + "_" + "x" * 43,
    ):
        with pytest.raises(UnauthenticatedError):
            keys.authenticate(bad)


def test_revoke_is_immediate_here_and_within_ttl_elsewhere(vault: Vault) -> None:
    clock = FakeClock()
    here = KeyService(vault.db, cache_ttl=2, clock=clock)
    elsewhere = KeyService(vault.db, cache_ttl=2, clock=clock)  # another server process
    plaintext, record = here.create("ci", "runtime")
    here.authenticate(plaintext)
    elsewhere.authenticate(plaintext)
    here.revoke(record.id, actor="alice")
    with pytest.raises(UnauthenticatedError):
        here.authenticate(plaintext)
    assert elsewhere.authenticate(plaintext).name == "ci"  # still cached there
    clock.advance(2.5)
    with pytest.raises(UnauthenticatedError):
        elsewhere.authenticate(plaintext)
    with pytest.raises(NotFoundError):
        here.revoke(record.id)


def test_names_roles_and_audit(vault: Vault) -> None:
    keys = KeyService(vault.db)
    with pytest.raises(InvalidInputError) as info:
        keys.create("x", "root")
    assert info.value.details["field"] == "role"
    keys.create("svc", "viewer", actor="alice")
    with pytest.raises(ConflictError):
        keys.create("svc", "viewer")
    keys.revoke("svc", actor="bob")  # by name
    keys.create("svc", "viewer", actor="alice")  # the name is free again
    assert [k.name for k in keys.list()] == ["svc"]
    assert len(keys.list(include_revoked=True)) == 2
    actions = [(e.action, e.actor, e.target) for e in vault.audit.entries(action="key.")]
    assert actions == [
        ("key.create", "alice", "key:svc"),
        ("key.revoke", "bob", "key:svc"),
        ("key.create", "alice", "key:svc"),
    ]
    assert all("secret" not in str(e.details) for e in vault.audit.entries())
    assert vault.audit.verify().ok


def test_first_start_creates_one_admin_key_file(vault: Vault, tmp_path: Path) -> None:
    keys = KeyService(vault.db)
    home = tmp_path / "pvhome"
    plaintext = ensure_admin_key(keys, home)
    assert plaintext is not None
    path = home / ADMIN_KEY_FILE
    assert path.read_text().strip() == plaintext
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.authenticate(plaintext).role == "admin"
    assert ensure_admin_key(keys, home) is None  # keys exist: nothing new
