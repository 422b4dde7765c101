# Generated from _audit_async.py by scripts/unasync.py: do not edit, change the source and
# run `python scripts/unasync.py`.
"""``client.audit`` of the SDK: entries and verification, through the server.

Generated from ``_audit_async.py`` (the hand-written source) by
``scripts/unasync.py`` (CI runs it with ``--check``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from promptvault.client import _api
from promptvault.client._api import Call
from promptvault.client.audit import AuditPaging
from promptvault.entities import AuditEntry, AuditReport

__all__ = ["ClientAudit"]


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
