"""The hash chain: appends from any transaction, and tampering of every kind is detected."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import text

from promptvault import Vault
from promptvault.config import Settings
from promptvault.storage.audit import GENESIS_HASH, append


@pytest.fixture
def audited(database_url: str) -> Vault:
    vault = Vault(Settings(database_url=database_url))
    for i in range(3):
        vault.push("p", template=f"v{i}", author="alice", config={"temperature": 0.5})
    vault.set_label("p", "staging", 2, actor="bob")
    assert vault.audit.verify().ok
    return vault


def test_chain_links(audited: Vault) -> None:
    entries = audited.audit.entries()
    assert entries[0].prev_hash == GENESIS_HASH
    for prev, cur in itertools.pairwise(entries):
        assert cur.prev_hash == prev.hash
        assert cur.seq == prev.seq + 1
    report = audited.audit.verify()
    assert report.checked == len(entries)


def test_append_in_callers_transaction(audited: Vault) -> None:
    audited.db.write(
        lambda s: append(s, actor="ops", action="key.create", target="key:ci", details={"n": 1})
    )
    last = audited.audit.entries()[-1]
    assert (last.action, last.details) == ("key.create", {"n": 1})
    assert audited.audit.verify().ok

    def failing(session: object) -> None:
        append(session, actor="ops", action="key.create", target="key:x")  # type: ignore[arg-type]
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        audited.db.write(failing)  # type: ignore[arg-type]
    assert audited.audit.entries()[-1].seq == last.seq  # no entry without its change


def _sql(vault: Vault, statement: str) -> None:
    with vault.db.engine.connect() as conn:
        conn.execute(text(statement))
        conn.commit()


def test_edit_detected(audited: Vault) -> None:
    _sql(audited, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    report = audited.audit.verify()
    assert (report.ok, report.broken_seq) == (False, 3)
    assert "altered" in (report.reason or "")


def test_details_edit_detected(audited: Vault) -> None:
    _sql(audited, """UPDATE audit_log SET details = '{"version": 99}' WHERE seq = 2""")
    assert audited.audit.verify().broken_seq == 2


def test_delete_detected(audited: Vault) -> None:
    _sql(audited, "DELETE FROM audit_log WHERE seq = 2")
    report = audited.audit.verify()
    assert (report.ok, report.broken_seq) == (False, 2)
    assert "missing" in (report.reason or "")


def test_delete_and_renumber_detected(audited: Vault) -> None:
    _sql(audited, "DELETE FROM audit_log WHERE seq = 2")
    _sql(audited, "UPDATE audit_log SET seq = seq - 1 WHERE seq > 2")
    report = audited.audit.verify()
    assert (report.ok, report.broken_seq) == (False, 2)


def test_reorder_detected(audited: Vault) -> None:
    _sql(audited, "UPDATE audit_log SET seq = -1 WHERE seq = 2")
    _sql(audited, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
    _sql(audited, "UPDATE audit_log SET seq = 3 WHERE seq = -1")
    report = audited.audit.verify()
    assert (report.ok, report.broken_seq) == (False, 2)
    assert "link" in (report.reason or "")
