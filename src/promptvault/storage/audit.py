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
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from promptvault.entities import AuditEntry, AuditReport, canonical_json
from promptvault.storage import change_events
from promptvault.storage.checkpoints import (
    AuditAnchor,
    Checkpoint,
    WitnessHead,
    checkpoints,
    write_checkpoint,
)
from promptvault.storage.database import ACTOR_INFO_KEY, LOCKED_INFO_KEY, WRITE_LOCK_KEY
from promptvault.storage.tables import ApiKeyRow, AuditRow, PromptRow, utcnow

__all__ = [
    "GENESIS_HASH",
    "append",
    "canonical_json",
    "entry_hash",
    "head",
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
    """Append one link in ``session``'s transaction (committed or rolled back with it).

    An empty ``actor`` is recorded as the database's default actor: no entry is anonymous.
    """
    _lock(session)
    actor = actor or str(session.info.get(ACTOR_INFO_KEY) or "unknown")
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
    # The change's event, in the same transaction: no change without it, and none without
    # the change (see storage/change_events.py).
    change_events.record(conn, actor=actor, action=action, target=target, details=clean, at=when)
    write_checkpoint(session, conn, seq=seq, digest=digest, at=when)
    return AuditEntry(**values)


def head(session: Session) -> tuple[int, str] | None:
    """``(seq, hash)`` of the newest entry, or None for an empty log."""
    row = session.execute(_HEAD).first()
    return (int(row[0]), str(row[1])) if row is not None else None


def _broken(checked: int, seq: int | None, problem: str, reason: str) -> AuditReport:
    return AuditReport(
        ok=False,
        checked=checked,
        broken_seq=seq,
        reason=reason,
        problem=problem,
    )


def _checkpoint_problem(
    anchor: AuditAnchor, point: Checkpoint, checked: int, *, what: str
) -> AuditReport | None:
    """A report when ``point`` is not signed by ``anchor``'s key, else None."""
    if anchor.signs(point):
        return None
    if point.key_id != anchor.key_id:
        return _broken(
            checked,
            point.seq,
            "checkpoint_foreign_key",
            f"{what} (entry {point.seq}) was signed with another key (key id "
            f"{point.key_id}; this process has {anchor.key_id}): set PROMPTVAULT_AUDIT_KEY "
            "to the key the servers use, or the checkpoint was forged",
        )
    return _broken(
        checked,
        point.seq,
        "checkpoint_forged",
        f"{what} (entry {point.seq}) is forged: its signature does not match its content",
    )


def verify_chain(
    session: Session,
    *,
    anchor: AuditAnchor | None = None,
    witness: Sequence[WitnessHead] = (),
    batch: int = 2000,
) -> AuditReport:
    """Walk the chain in ``seq`` order; report the first thing that does not hold.

    Without ``anchor`` only the links are checked. With it, the signed checkpoints are too
    (see :mod:`promptvault.storage.checkpoints`), and each head in ``witness`` (read before
    this session's snapshot began, so every one of them was committed) must be in the chain.
    Run it in one snapshot (``Database.snapshot``): the head checkpoint is compared with
    the last entry the walk saw.
    """
    head_point: Checkpoint | None = None
    periodic: dict[int, Checkpoint] = {}
    if anchor is not None:
        head_point, periodic = checkpoints(session)
    witnessed: dict[int, list[WitnessHead]] = {}
    for item in witness:
        witnessed.setdefault(item.seq, []).append(item)
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
            break
        for row in rows:
            if row.seq != expected_seq:
                return _broken(
                    checked,
                    expected_seq,
                    "entry_missing",
                    f"entry {expected_seq} is missing (next entry is {row.seq})",
                )
            if row.prev_hash != expected_prev:
                return _broken(
                    checked,
                    row.seq,
                    "link_broken",
                    f"entry {row.seq} does not link to entry {row.seq - 1} "
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
                return _broken(
                    checked,
                    row.seq,
                    "entry_altered",
                    f"entry {row.seq} was altered (its hash does not match its content)",
                )
            point = periodic.get(row.seq)
            if point is not None and anchor is not None:
                problem = _checkpoint_problem(anchor, point, checked, what="a checkpoint")
                if problem is not None:
                    return problem
                if point.hash != row.hash:
                    return _rewritten(checked, row.seq, "the signed checkpoint", periodic)
            for seen in witnessed.get(row.seq, ()):
                if seen.hash != row.hash:
                    return _rewritten(checked, row.seq, "the witness", periodic)
            checked += 1
            expected_prev = row.hash
            expected_seq += 1
            last_seq = row.seq
    head_seq = expected_seq - 1
    beyond = [w.seq for w in witness if w.seq > head_seq]
    if beyond:
        return _broken(
            checked,
            head_seq + 1,
            "tail_missing",
            f"the newest entries are missing: the witness recorded entry {max(beyond)} but "
            f"the chain ends at entry {head_seq}",
        )
    if anchor is None:
        return AuditReport(ok=True, checked=checked)
    return _check_head(
        session,
        anchor=anchor,
        point=head_point,
        head_seq=head_seq,
        head_hash=expected_prev,
        checked=checked,
    )


def _rewritten(
    checked: int, seq: int, source: str, periodic: Mapping[int, Checkpoint]
) -> AuditReport:
    earlier = [s for s in periodic if s < seq]
    start = f"after entry {max(earlier)}" if earlier else "at or before it"
    return _broken(
        checked,
        seq,
        "chain_rewritten",
        f"the chain was rewritten: entry {seq}'s hash differs from {source} (an entry "
        f"{start} was edited and the later hashes recomputed)",
    )


def _check_head(
    session: Session,
    *,
    anchor: AuditAnchor,
    point: Checkpoint | None,
    head_seq: int,
    head_hash: str,
    checked: int,
) -> AuditReport:
    if point is None:
        if head_seq > 0:
            return _broken(
                checked,
                head_seq,
                "checkpoint_missing",
                f"the signed head checkpoint is missing while the chain holds {head_seq} "
                "entries: it was deleted, so a deleted tail could not be seen",
            )
        prompts = session.execute(select(func.count()).select_from(PromptRow)).scalar_one()
        keys = session.execute(select(func.count()).select_from(ApiKeyRow)).scalar_one()
        if prompts or keys:
            return _broken(
                checked,
                1,
                "tail_missing",
                f"the audit log and its checkpoint are empty, but the database holds "
                f"{prompts} prompts and {keys} API keys whose changes were audited: "
                "the log was deleted",
            )
        return AuditReport(ok=True, checked=checked)
    problem = _checkpoint_problem(anchor, point, checked, what="the head checkpoint")
    if problem is not None:
        return problem.model_copy(update={"head_checkpoint": point.seq})
    report: AuditReport | None = None
    if point.seq > head_seq:
        report = _broken(
            checked,
            head_seq + 1,
            "tail_missing",
            f"the newest entries are missing: the signed checkpoint says the chain ends at "
            f"entry {point.seq}, but it ends at entry {head_seq}",
        )
    elif point.seq < head_seq:
        report = _broken(
            checked,
            point.seq + 1,
            "entries_unanchored",
            f"entries {point.seq + 1}..{head_seq} are not covered by the signed checkpoint "
            "(they were added outside promptvault, or by a server without checkpoints)",
        )
    elif point.hash != head_hash:
        report = _broken(
            checked,
            head_seq,
            "chain_rewritten",
            f"the chain was rewritten: entry {head_seq}'s hash differs from the signed "
            "checkpoint (an entry was edited and the later hashes recomputed)",
        )
    if report is not None:
        return report.model_copy(update={"head_checkpoint": point.seq})
    return AuditReport(ok=True, checked=checked, head_checkpoint=point.seq)
