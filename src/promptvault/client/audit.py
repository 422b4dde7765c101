"""The audit log through a server (``GET /v1/audit``, ``POST /v1/audit/verify``).

The paging is written once, as :class:`AuditPaging` (which call to make next, what to keep
of each answer); :class:`ClientAudit` and :class:`AsyncClientAudit` only send its calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from promptvault.client import _api
from promptvault.client._api import Call, Page
from promptvault.entities import AuditEntry, AuditReport
from promptvault.errors import InvalidInputError

__all__ = ["AsyncClientAudit", "AuditPaging", "ClientAudit"]

T = TypeVar("T")


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


class ClientAudit:
    """``client.audit``: the same two reads as ``vault.audit``."""

    def __init__(self, call: Callable[[Call[Any]], Any]) -> None:
        self._call = call

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
        """Entries oldest first, filtered (``action`` ending in ``.`` is a prefix)."""
        paging = AuditPaging(
            since=since, actor=actor, action=action, target=target, limit=limit, after_seq=after_seq
        )
        while (call := paging.next_call()) is not None:
            paging.take(self._call(call))
        return paging.items

    def verify(self) -> AuditReport:
        """Have the server walk the chain (needs an admin key)."""
        report: AuditReport = self._call(_api.audit_verify())
        return report


class AsyncClientAudit:
    """``client.audit`` of the async SDK."""

    def __init__(self, call: Callable[[Call[Any]], Awaitable[Any]]) -> None:
        self._call = call

    async def entries(
        self,
        *,
        since: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        limit: int | None = None,
        after_seq: int | None = None,
    ) -> list[AuditEntry]:
        """Entries oldest first, filtered (``action`` ending in ``.`` is a prefix)."""
        paging = AuditPaging(
            since=since, actor=actor, action=action, target=target, limit=limit, after_seq=after_seq
        )
        while (call := paging.next_call()) is not None:
            paging.take(await self._call(call))
        return paging.items

    async def verify(self) -> AuditReport:
        """Have the server walk the chain (needs an admin key)."""
        report: AuditReport = await self._call(_api.audit_verify())
        return report
