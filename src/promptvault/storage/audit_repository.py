"""The audit log as a unit of work reads it (``work.audit_log``): entities in, entities out.

Appending stays :meth:`UnitOfWork.audit` (``storage/audit.py``), so every change records
itself in its own transaction; this repository is the reading side: filtered entries, the
head of the chain and its signed checkpoint, and the verification walk.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from promptvault.entities import AuditEntry, AuditReport
from promptvault.storage import audit
from promptvault.storage.checkpoints import AuditAnchor, Checkpoint, WitnessHead, checkpoints

__all__ = ["AuditRepository"]


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
        """Entries, filtered and paged (see :func:`promptvault.storage.audit.entries`)."""
        return audit.entries(
            self._session,
            since=since,
            actor=actor,
            action=action,
            target=target,
            limit=limit,
            after_seq=after_seq,
            before_seq=before_seq,
            newest_first=newest_first,
        )

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
