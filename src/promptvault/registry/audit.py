"""The audit log as users see it: filtered entries and chain verification.

Appending is :meth:`UnitOfWork.audit`, so that every service (registry, API keys,
experiments) records its change inside its own write transaction; reading goes through
``work.audit_log``.
"""

from __future__ import annotations

from datetime import datetime

from promptvault.entities import AuditEntry, AuditReport
from promptvault.errors import InvalidInputError
from promptvault.storage.checkpoints import read_witness
from promptvault.storage.database import Database
from promptvault.storage.unit_of_work import UnitOfWork

__all__ = ["AuditLog"]


class AuditLog:
    """Read and verify the hash-chained audit log of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

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
        """Entries oldest first (or ``newest_first``, as the web UI shows them), filtered;
        ``after_seq`` / ``before_seq`` page on from a previous answer.

        ``action`` ending in ``.`` or ``*`` matches a prefix (``label.`` = every label move);
        ``target`` ending in ``*`` matches a prefix.
        """
        if limit is not None and (isinstance(limit, bool) or limit < 1):
            raise InvalidInputError("limit must be >= 1", details={"field": "limit"})
        with self.db.read_work() as work:
            return work.audit_log.entries(
                since=since,
                actor=actor,
                action=action,
                target=target,
                limit=limit,
                after_seq=after_seq,
                before_seq=before_seq,
                newest_first=newest_first,
            )

    def verify(self) -> AuditReport:
        """Walk the whole chain and check it against its signed checkpoints and witness.

        ``ok``, or the first thing that does not hold and why: a missing, altered or
        unlinked entry, a deleted tail, a rewritten chain, a missing or forged checkpoint.
        """
        anchor = self.db.audit_anchor
        # Read before the snapshot starts: every witnessed head was committed by then.
        witness = read_witness(anchor.witness) if anchor.witness is not None else []
        with self.db.snapshot_work() as work:
            return work.audit_log.verify(anchor=anchor, witness=witness)

    def anchor_unsigned_head(self, *, actor: str) -> bool:
        """Sign the head of a chain that has no checkpoint yet (made before checkpoints).

        Called right after an upgrade to the first schema with checkpoints. Records an
        ``audit.anchor`` entry, whose append writes the first signed checkpoint; returns
        whether it did (False when the chain is empty or already anchored).
        """

        with self.db.read_work() as work:  # a read first: an empty database needs no key yet
            if work.audit_log.head_checkpoint() is not None or work.audit_log.head() is None:
                return False

        def change(work: UnitOfWork) -> bool:
            signed = work.audit_log.head_checkpoint()
            last = work.audit_log.head()
            if signed is not None or last is None:
                return False
            work.audit(
                actor=actor,
                action="audit.anchor",
                target="audit",
                details={"anchored_from": last[0], "reason": "upgrade"},
            )
            return True

        return self.db.write_work(change)
