"""The hash-chained audit log at the storage level: append inside a transaction, walk, verify.

Each entry's hash is ``sha256(canonical_json(entry) + prev_hash)`` where the entry is
``{seq, at, actor, action, target, details}``. Appends are serialised: every promptvault write
transaction already holds the database's write lock (``BEGIN IMMEDIATE`` on SQLite, the
advisory lock on PostgreSQL, re-taken here so that a caller's own transaction is covered too),
so reading the head and writing the next link cannot interleave with another writer.

Any service can record its change in the same transaction as the change itself::

    db.write(lambda s: (do_change(s), append(s, actor="alice", action="key.create",
                                              target="key:ci", details={...})))
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from promptvault.entities import AuditEntry, AuditReport, canonical_json
from promptvault.storage.database import LOCKED_INFO_KEY, WRITE_LOCK_KEY
from promptvault.storage.tables import AuditRow, utcnow

__all__ = [
    "GENESIS_HASH",
    "append",
    "canonical_json",
    "entries",
    "entry_hash",
    "to_entry",
    "verify_chain",
]

GENESIS_HASH = "0" * 64

# Built once (every write appends): SQLAlchemy reuses the compiled SQL.
_HEAD = select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
_INSERT = insert(AuditRow)


def _at_text(at: datetime) -> str:
    # Naive-UTC ISO text with microseconds: what both databases store and give back.
    return at.replace(tzinfo=None).isoformat(timespec="microseconds")


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """The hash of one link given its content and the previous link's hash."""
    body = canonical_json(
        {
            "seq": seq,
            "at": _at_text(at),
            "actor": actor,
            "action": action,
            "target": target,
            "details": dict(details),
        }
    )
    return hashlib.sha256((body + prev_hash).encode("utf-8")).hexdigest()


def _lock(session: Session) -> None:
    if session.info.get(LOCKED_INFO_KEY):
        return  # a Database.transaction() already holds the write lock
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
        session.info[LOCKED_INFO_KEY] = True


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one link in ``session``'s transaction (committed or rolled back with it)."""
    _lock(session)
    # Core execution on the session's connection: no ORM bookkeeping on every write.
    conn = session.connection()
    head = conn.execute(_HEAD).first()
    seq = (head[0] + 1) if head else 1
    prev_hash = head[1] if head else GENESIS_HASH
    # Round-trip through JSON so the hashed value is exactly what the database gives back.
    clean = json.loads(canonical_json(dict(details or {})))
    when = at or utcnow()
    digest = entry_hash(
        seq=seq,
        at=when,
        actor=actor,
        action=action,
        target=target,
        details=clean,
        prev_hash=prev_hash,
    )
    values = {
        "seq": seq,
        "at": when,
        "actor": actor,
        "action": action,
        "target": target,
        "details": clean,
        "prev_hash": prev_hash,
        "hash": digest,
    }
    # A Core insert: no unit-of-work bookkeeping on the path every write takes.
    conn.execute(_INSERT, values)
    return AuditEntry(**values)


def to_entry(row: AuditRow) -> AuditEntry:
    """The entity for one audit row."""
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        details=dict(row.details or {}),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def entries(
    session: Session,
    *,
    since: datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    limit: int | None = None,
    after_seq: int | None = None,
) -> list[AuditEntry]:
    """Entries oldest first, filtered; ``after_seq`` pages on from a previous answer.

    ``action`` ending in ``.`` or ``*`` matches a prefix (``label.`` = every label move).
    """
    query = select(AuditRow).order_by(AuditRow.seq)
    if since is not None:
        query = query.where(AuditRow.at >= since)
    if actor is not None:
        query = query.where(AuditRow.actor == actor)
    if action is not None:
        if action.endswith(("*", ".")):
            prefix = action.rstrip("*")
            query = query.where(AuditRow.action.startswith(prefix, autoescape=True))
        else:
            query = query.where(AuditRow.action == action)
    if target is not None:
        query = query.where(AuditRow.target == target)
    if after_seq is not None:
        query = query.where(AuditRow.seq > after_seq)
    if limit is not None:
        query = query.limit(limit)
    return [to_entry(row) for row in session.execute(query).scalars()]


def verify_chain(session: Session, *, batch: int = 2000) -> AuditReport:
    """Walk the chain in ``seq`` order; report the first link that does not hold."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_seq: int | None = None  # no lower bound at first: a row renumbered to 0 is seen too
    while True:
        query = select(AuditRow).order_by(AuditRow.seq).limit(batch)
        if last_seq is not None:
            query = query.where(AuditRow.seq > last_seq)
        rows = session.execute(query).scalars().all()
        if not rows:
            return AuditReport(ok=True, checked=checked)
        for row in rows:
            if row.seq != expected_seq:
                return AuditReport(
                    ok=False,
                    checked=checked,
                    broken_seq=expected_seq,
                    reason=f"entry {expected_seq} is missing (next entry is {row.seq})",
                )
            if row.prev_hash != expected_prev:
                return AuditReport(
                    ok=False,
                    checked=checked,
                    broken_seq=row.seq,
                    reason=f"entry {row.seq} does not link to entry {row.seq - 1} "
                    "(prev_hash differs: entries deleted, inserted or reordered)",
                )
            digest = entry_hash(
                seq=row.seq,
                at=row.at,
                actor=row.actor,
                action=row.action,
                target=row.target,
                details=row.details or {},
                prev_hash=row.prev_hash,
            )
            if digest != row.hash:
                return AuditReport(
                    ok=False,
                    checked=checked,
                    broken_seq=row.seq,
                    reason=f"entry {row.seq} was altered (its hash does not match its content)",
                )
            checked += 1
            expected_prev = row.hash
            expected_seq += 1
            last_seq = row.seq
