"""The audit log as users see it: filtered entries and chain verification.

Appending lives in ``promptvault.storage.audit.append`` so that every service (registry,
API keys, experiments) records its change inside its own write transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from promptvault.entities import AuditEntry, AuditReport
from promptvault.errors import InvalidInputError
from promptvault.storage.audit import to_entry, verify_chain
from promptvault.storage.database import Database
from promptvault.storage.tables import AuditRow

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
        with self.db.read() as s:
            return [to_entry(row) for row in s.execute(query).scalars()]

    def verify(self) -> AuditReport:
        """Walk the whole chain; ``ok`` or the first broken link and why."""
        with self.db.read() as s:
            return verify_chain(s)
