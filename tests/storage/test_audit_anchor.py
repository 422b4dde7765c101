"""Signed checkpoints anchor the audit chain: every tampering done in SQL is reported."""

from __future__ import annotations

import dataclasses
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from promptvault import Vault
from promptvault.config import Settings
from promptvault.errors import PromptUnavailable
from promptvault.storage.audit import append, entry_hash
from promptvault.storage.migrate import downgrade


def _sql(vault: Vault, statement: str, **params: Any) -> None:
    with vault.db.engine.connect() as conn:
        conn.execute(text(statement), params)
        conn.commit()


def _rows(vault: Vault, statement: str) -> list[Any]:
    with vault.db.engine.connect() as conn:
        return list(conn.execute(text(statement)))


def _history(vault: Vault) -> None:
    for i in range(4):
        vault.push("p", template=f"v{i}", author="alice")
    vault.set_label("p", "staging", 2, actor="bob")


@pytest.fixture
def audited(database_url: str) -> Iterator[Vault]:
    vault = Vault(Settings(database_url=database_url))
    _history(vault)
    assert vault.audit.verify().ok
    yield vault
    vault.close()


def _rewrite_from(vault: Vault, seq: int, *, actor: str = "mallory") -> None:
    """Edit entry ``seq`` and recompute every later hash, as an attacker with SQL would."""
    _sql(vault, "UPDATE audit_log SET actor = :a WHERE seq = :s", a=actor, s=seq)
    entries = {e.seq: e for e in vault.audit.entries()}
    prev = entries[seq].prev_hash
    for n in range(seq, max(entries) + 1):
        e = entries[n]
        digest = entry_hash(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            target=e.target,
            details=e.details,
            prev_hash=prev,
        )
        _sql(
            vault,
            "UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s",
            p=prev,
            h=digest,
            s=n,
        )
        prev = digest


def test_head_checkpoint_follows_every_write(audited: Vault) -> None:
    entries = audited.audit.entries()
    (row,) = _rows(audited, "SELECT seq, hash FROM audit_checkpoints WHERE kind = 'head'")
    assert (row.seq, row.hash) == (entries[-1].seq, entries[-1].hash)
    report = audited.audit.verify()
    assert (report.ok, report.head_checkpoint, report.checked) == (True, len(entries), len(entries))


def test_deleted_tail_detected(audited: Vault) -> None:
    _sql(audited, "DELETE FROM audit_log WHERE seq >= 4")
    report = audited.audit.verify()
    assert (report.ok, report.problem, report.broken_seq) == (False, "tail_missing", 4)
    assert "newest entries are missing" in (report.reason or "")
    assert "ends at entry 3" in (report.reason or "")


def test_all_entries_deleted_detected(audited: Vault) -> None:
    _sql(audited, "DELETE FROM audit_log")
    report = audited.audit.verify()
    assert (report.ok, report.problem) == (False, "tail_missing")


def test_entries_and_checkpoints_deleted_detected(audited: Vault) -> None:
    _sql(audited, "DELETE FROM audit_checkpoints")
    _sql(audited, "DELETE FROM audit_log")
    report = audited.audit.verify()
    assert (report.ok, report.problem) == (False, "tail_missing")
    assert "the log was deleted" in (report.reason or "")


def test_rewritten_chain_detected(audited: Vault) -> None:
    _rewrite_from(audited, 2)
    report = audited.audit.verify()
    assert (report.ok, report.problem) == (False, "chain_rewritten")
    assert "rewritten" in (report.reason or "")


def test_periodic_checkpoints_narrow_down_a_rewrite(database_url: str) -> None:
    vault = Vault(Settings(database_url=database_url))
    vault.db.audit_anchor = dataclasses.replace(vault.db.audit_anchor, every=2)
    try:
        _history(vault)
        periodic = _rows(vault, "SELECT seq FROM audit_checkpoints WHERE kind = 'periodic'")
        assert sorted(r.seq for r in periodic) == [2, 4, 6]
        _rewrite_from(vault, 3)
        report = vault.audit.verify()
        assert (report.ok, report.problem, report.broken_seq) == (False, "chain_rewritten", 4)
        assert "after entry 2" in (report.reason or "")
    finally:
        vault.close()


def test_deleted_checkpoint_detected(audited: Vault) -> None:
    _sql(audited, "DELETE FROM audit_checkpoints")
    report = audited.audit.verify()
    assert (report.ok, report.problem) == (False, "checkpoint_missing")
    assert "checkpoint is missing" in (report.reason or "")


def test_truncation_with_edited_checkpoint_is_a_forgery(audited: Vault) -> None:
    head = _rows(audited, "SELECT seq, hash FROM audit_log WHERE seq = 3")[0]
    _sql(audited, "DELETE FROM audit_log WHERE seq > 3")
    _sql(
        audited,
        "UPDATE audit_checkpoints SET seq = :s, hash = :h WHERE kind = 'head'",
        s=head.seq,
        h=head.hash,
    )
    report = audited.audit.verify()
    assert (report.ok, report.problem, report.head_checkpoint) == (False, "checkpoint_forged", 3)
    assert "forged" in (report.reason or "")


def test_checkpoint_from_another_key_is_named(database_url: str, home: Path) -> None:
    vault = Vault(Settings(database_url=database_url, audit_key="first key"))
    _history(vault)
    vault.close()
    other = Vault(Settings(database_url=database_url, audit_key="second key"))
    try:
        report = other.audit.verify()
        assert (report.ok, report.problem) == (False, "checkpoint_foreign_key")
        assert "PROMPTVAULT_AUDIT_KEY" in (report.reason or "")
    finally:
        other.close()
    again = Vault(Settings(database_url=database_url, audit_key="first key"))
    try:
        assert again.audit.verify().ok
    finally:
        again.close()


def test_entries_added_in_sql_are_not_anchored(audited: Vault) -> None:
    last = audited.audit.entries()[-1]
    at = last.at
    digest = entry_hash(
        seq=last.seq + 1,
        at=at,
        actor="mallory",
        action="x",
        target="y",
        details={},
        prev_hash=last.hash,
    )
    _sql(
        audited,
        "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) "
        "VALUES (:s, :at, 'mallory', 'x', 'y', '{}', :p, :h)",
        s=last.seq + 1,
        at=at.replace(tzinfo=None),
        p=last.hash,
        h=digest,
    )
    report = audited.audit.verify()
    assert (report.ok, report.problem) == (False, "entries_unanchored")


def test_failed_write_leaves_the_checkpoint_alone(audited: Vault) -> None:
    def failing(session: Any) -> None:
        append(session, actor="ops", action="key.create", target="key:x")
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        audited.db.write(failing)
    assert audited.audit.verify().ok


def test_key_file_is_private_and_created_once(audited: Vault, home: Path) -> None:
    path = home / "audit.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_text()
    audited.push("q", template="x")
    assert path.read_text() == before


def test_witness_catches_a_wiped_database(database_url: str, tmp_path: Path) -> None:
    witness = tmp_path / "elsewhere" / "audit.witness"
    vault = Vault(Settings(database_url=database_url, audit_witness=witness))
    try:
        _history(vault)
        lines = [json.loads(x) for x in witness.read_text().splitlines()]
        assert [x["seq"] for x in lines] == [2, 3, 4, 5, 6]  # one line per commit
        assert vault.audit.verify().ok
        for table in ("audit_checkpoints", "audit_log", "labels", "label_events"):
            _sql(vault, f"DELETE FROM {table}")
        _sql(vault, "DELETE FROM prompt_versions")
        _sql(vault, "DELETE FROM tags")
        _sql(vault, "DELETE FROM prompts")
        report = vault.audit.verify()
        assert (report.ok, report.problem) == (False, "tail_missing")
        assert "witness recorded entry 6" in (report.reason or "")
    finally:
        vault.close()


def test_witness_catches_a_rewrite_with_a_replayed_checkpoint(
    database_url: str, tmp_path: Path
) -> None:
    witness = tmp_path / "audit.witness"
    vault = Vault(Settings(database_url=database_url, audit_witness=witness))
    try:
        _history(vault)
        saved = _rows(vault, "SELECT seq, hash, at, signature FROM audit_checkpoints")[0]
        vault.push("p", template="later")
        # Back to the saved state: truncate and put the old (validly signed) head back.
        _sql(vault, "DELETE FROM audit_log WHERE seq > :s", s=saved.seq)
        _sql(
            vault,
            "UPDATE audit_checkpoints SET seq = :s, hash = :h, at = :at, signature = :g",
            s=saved.seq,
            h=saved.hash,
            at=saved.at,
            g=saved.signature,
        )
        report = vault.audit.verify()
        assert (report.ok, report.problem) == (False, "tail_missing")
    finally:
        vault.close()


def test_a_rolled_back_write_never_reaches_the_witness(sqlite_url: str, tmp_path: Path) -> None:
    witness = tmp_path / "audit.witness"
    vault = Vault(Settings(database_url=sqlite_url, audit_witness=witness))
    try:
        vault.push("p", template="a")
        with pytest.raises(ZeroDivisionError):
            vault.db.write(lambda s: (append(s, actor="a", action="x", target="y"), 1 / 0))
        assert len(witness.read_text().splitlines()) == 1
        assert vault.audit.verify().ok
    finally:
        vault.close()


def test_upgrade_anchors_an_existing_chain(database_url: str) -> None:
    vault = Vault(Settings(database_url=database_url))
    _history(vault)
    downgrade(vault.db, "0004_fewshot")
    vault.close()
    upgraded = Vault(Settings(database_url=database_url), migrate=True)
    try:
        report = upgraded.audit.verify()
        assert report.ok, report.reason
        last = upgraded.audit.entries()[-1]
        assert (last.action, last.details["anchored_from"]) == ("audit.anchor", 6)
    finally:
        upgraded.close()


def test_the_key_file_is_needed_only_to_write(empty_sqlite_url: str, tmp_path: Path) -> None:
    home = tmp_path / "not-a-directory"
    home.write_text("")
    vault = Vault(Settings(database_url=empty_sqlite_url, home=home))
    try:
        assert vault.list_prompts() == []  # opening, migrating and reading need no key
        with pytest.raises(PromptUnavailable, match="PROMPTVAULT_AUDIT_KEY") as info:
            vault.push("p", template="x")
        assert info.value.details["field"] == "audit_key"
        assert vault.list_prompts() == []  # nothing half-written
    finally:
        vault.close()
    keyed = Vault(Settings(database_url=empty_sqlite_url, home=home, audit_key="k"))
    try:
        keyed.push("p", template="x")
        assert keyed.audit.verify().ok
    finally:
        keyed.close()
