"""The audit log: entries (viewer and up), chain verification (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from promptvault.entities import MAX_INT, AuditEntry, AuditReport
from promptvault.server.api._models import Page
from promptvault.server.auth import Admin, Reader
from promptvault.server.deps import VaultDep
from promptvault.server.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)


@router.get("", response_model=Page[AuditEntry])
def entries(
    *,
    vault: VaultDep,
    _key: Reader,
    actor: str | None = None,
    action: Annotated[str | None, Query(description="Exact, or a prefix ending in '.'")] = None,
    target: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        int | None, Query(ge=0, le=MAX_INT, description="Entries after this seq.")
    ] = None,
) -> Page[AuditEntry]:
    """Entries oldest first; page on with ``next_cursor``."""
    rows = vault.audit.entries(
        since=since, actor=actor, action=action, target=target, limit=limit + 1, after_seq=cursor
    )
    more = len(rows) > limit
    items = rows[:limit]
    return Page(items=items, next_cursor=str(items[-1].seq) if more and items else None)


@router.post("/verify", response_model=AuditReport)
def verify(vault: VaultDep, _key: Admin) -> AuditReport:
    """Walk the hash chain; ``ok`` or the first broken link."""
    return vault.audit.verify()
