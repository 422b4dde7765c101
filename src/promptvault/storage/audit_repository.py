"""The audit log as a unit of work reads it (``work.audit_log``): entities out, no rows.

Appending stays :meth:`UnitOfWork.audit` (``storage/audit.py``), so every change records
itself in its own transaction; this repository is the reading side: filtered entries, the
head of the chain and its signed checkpoint, and the verification walk.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptvault.entities import AuditEntry, AuditReport
from promptvault.storage import audit
from promptvault.storage.checkpoints import AuditAnchor, Checkpoint, WitnessHead, checkpoints
from promptvault.storage.tables import AuditRow

__all__ = ["AuditRepository"]


def _entry(row: AuditRow) -> AuditEntry:
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


class AuditRepository:
    """The audit chain and its checkpoints within one transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def entries(
        self,
        *,
        since: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        limit: int | None = None,
        after_seq: int | None = None,
        before_seq: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditEntry]:
        """Entries oldest first (or ``newest_first``), filtered; ``after_seq`` /
        ``before_seq`` page on from a previous answer.

        ``action`` ending in ``.`` or ``*`` matches a prefix (``label.`` = every label move);
        ``target`` ending in ``*`` matches a prefix.
        """
        query = select(AuditRow).order_by(AuditRow.seq.desc() if newest_first else AuditRow.seq)
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
            if target.endswith("*"):
                prefix = target.rstrip("*")
                query = query.where(AuditRow.target.startswith(prefix, autoescape=True))
            else:
                query = query.where(AuditRow.target == target)
        if after_seq is not None:
            query = query.where(AuditRow.seq > after_seq)
        if before_seq is not None:
            query = query.where(AuditRow.seq < before_seq)
        if limit is not None:
            query = query.limit(limit)
        return [_entry(row) for row in self._session.execute(query).scalars()]

    def head(self) -> tuple[int, str] | None:
        """``(seq, hash)`` of the newest entry, or None for an empty log."""
        return audit.head(self._session)

    def head_checkpoint(self) -> Checkpoint | None:
        """The signed checkpoint of the chain's head, or None (none written yet)."""
        return checkpoints(self._session)[0]

    def verify(self, *, anchor: AuditAnchor, witness: Sequence[WitnessHead]) -> AuditReport:
        """Walk the whole chain against its checkpoints and ``witness`` (run it in one
        snapshot: ``Database.snapshot_work``)."""
        return audit.verify_chain(self._session, anchor=anchor, witness=witness)
