"""The audit log as users see it: filtered entries and chain verification.

Appending lives in ``promptvault.storage.audit.append`` so that every service (registry,
API keys, experiments) records its change inside its own write transaction.
"""

from __future__ import annotations

from datetime import datetime

from promptvault.entities import AuditEntry, AuditReport
from promptvault.errors import InvalidInputError
from promptvault.storage import audit as storage_audit
from promptvault.storage.database import Database

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
    ) -> list[AuditEntry]:
        """Entries oldest first, filtered; ``after_seq`` pages on from a previous answer.

        ``action`` ending in ``.`` or ``*`` matches a prefix (``label.`` = every label move).
        """
        if limit is not None and (isinstance(limit, bool) or limit < 1):
            raise InvalidInputError("limit must be >= 1", details={"field": "limit"})
        with self.db.read() as s:
            return storage_audit.entries(
                s,
                since=since,
                actor=actor,
                action=action,
                target=target,
                limit=limit,
                after_seq=after_seq,
            )

    def verify(self) -> AuditReport:
        """Walk the whole chain; ``ok`` or the first broken link and why."""
        with self.db.read() as s:
            return storage_audit.verify_chain(s)
