"""The audit log through a server (``GET /v1/audit``, ``POST /v1/audit/verify``).

The paging is written once, sans I/O, as :class:`AuditPaging` (which call to make next, what
to keep of each answer); ``client.audit`` (``_audit_async.AsyncClientAudit`` and the
``_audit_sync.ClientAudit`` generated from it) only sends its calls.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from promptvault.client import _api
from promptvault.client._api import Call, Page
from promptvault.entities import AuditEntry
from promptvault.errors import InvalidInputError

__all__ = ["AuditPaging"]


class AuditPaging:
    """Entries matching the filters, oldest first, gathered page by page up to ``limit``."""

    def __init__(
        self,
        *,
        since: datetime | None,
        actor: str | None,
        action: str | None,
        target: str | None,
        limit: int | None,
        after_seq: int | None,
    ) -> None:
        if limit is not None and (isinstance(limit, bool) or limit < 1):
            raise InvalidInputError("limit must be >= 1", details={"field": "limit"})
        self.filters: dict[str, Any] = {
            "since": since,
            "actor": actor,
            "action": action,
            "target": target,
        }
        self.limit = limit
        self.cursor = after_seq
        self.items: list[AuditEntry] = []
        self.done = False

    def next_call(self) -> Call[Page[AuditEntry]] | None:
        """The request for the next page, or None when everything asked for is here."""
        if self.done:
            return None
        wanted = _api.AUDIT_PAGE
        if self.limit is not None:
            wanted = min(wanted, self.limit - len(self.items))
        return _api.audit_entries(**self.filters, limit=wanted, after_seq=self.cursor)

    def take(self, page: Page[AuditEntry]) -> None:
        """Keep one page's entries and move the cursor past them."""
        self.items.extend(page.items)
        full = self.limit is not None and len(self.items) >= self.limit
        if full or page.next_cursor is None or not page.items:
            self.done = True
            return
        self.cursor = page.items[-1].seq
