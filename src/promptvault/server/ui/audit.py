"""The audit page: the hash-chained log newest first, filters, and chain verification."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from promptvault.entities import AuditEntry
from promptvault.server.auth import Permission
from promptvault.server.deps import VaultDep
from promptvault.server.ui.views import (
    UIRoute,
    UserDep,
    checked_form,
    page,
)
from promptvault.vault import Vault

__all__ = ["PAGE_SIZE", "newest_entries", "router"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)
PAGE_SIZE = 50


def newest_entries(
    vault: Vault,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    before_seq: int | None = None,
    limit: int = PAGE_SIZE,
) -> list[AuditEntry]:
    """Entries newest first (people read a log from the top); filters as ``audit.entries``.

    ``action`` ending in ``.`` or ``*`` matches a prefix; ``target`` may end in ``*`` too.
    """
    return vault.audit.entries(
        actor=actor or None,
        action=action or None,
        target=target or None,
        before_seq=before_seq,
        limit=limit,
        newest_first=True,
    )


def _audit_page(
    request: Request, vault: Vault, *, filters: dict[str, str], before: int | None, report: object
) -> Response:
    rows = newest_entries(
        vault,
        actor=filters["actor"] or None,
        action=filters["action"] or None,
        target=filters["target"] or None,
        before_seq=before,
        limit=PAGE_SIZE + 1,
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return page(
        request,
        "audit.html",
        {
            "rows": rows,
            "filters": filters,
            "before": before,
            "older": rows[-1].seq if more and rows else None,
            "report": report,
        },
    )


@router.get("/audit")
def audit(
    *,
    request: Request,
    vault: VaultDep,
    user: UserDep,
    actor: str = "",
    action: str = "",
    target: str = "",
    before: int | None = None,
) -> Response:
    """The log, newest first, ``PAGE_SIZE`` entries per page."""
    filters = {"actor": actor.strip(), "action": action.strip(), "target": target.strip()}
    return _audit_page(request, vault, filters=filters, before=before, report=None)


@router.post("/audit/verify")
async def verify(request: Request, vault: VaultDep, user: UserDep) -> Response:
    """Walk the whole chain and show the result above the log (admin, like the API)."""
    await checked_form(request, user, Permission.ADMIN)
    report = await run_in_threadpool(vault.audit.verify)
    filters = {"actor": "", "action": "", "target": ""}
    return await run_in_threadpool(
        lambda: _audit_page(request, vault, filters=filters, before=None, report=report)
    )
