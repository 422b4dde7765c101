"""``client.audit`` of the SDK: entries and verification, through the server.

This is the hand-written source; ``_audit_sync.py`` is generated from it by
``scripts/unasync.py`` (CI runs it with ``--check``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from promptvault.client import _api
from promptvault.client._api import Call
from promptvault.client.audit import AuditPaging
from promptvault.entities import AuditEntry, AuditReport

__all__ = ["AsyncClientAudit"]


class AsyncClientAudit:
    """``client.audit``: the same two reads as ``vault.audit``."""

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
