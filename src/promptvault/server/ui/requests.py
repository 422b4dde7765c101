"""Four-eyes approval in the web UI: the queue, one request, approve / reject, comments.

A promote of a label listed in ``approval_labels`` makes a change request (see
:mod:`promptvault.server.ui.prompts`); its page shows what moves (the label, from which
version to which, the diff), the requester's comment and the discussion, and offers an
approver other than the requester Approve (which makes the move) and Reject. The same
permissions as ``/v1/requests``: approving needs ``approve``, commenting ``write``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from promptvault.errors import InvalidInputError
from promptvault.registry.refs import parse_int
from promptvault.server.auth import Permission
from promptvault.server.deps import SettingsDep, VaultDep
from promptvault.server.ui.compare import diff_view
from promptvault.server.ui.views import (
    UIRoute,
    User,
    UserDep,
    checked_form,
    flash,
    page,
    prompt_url,
    redirect,
)

__all__ = ["QUEUE_SIZE", "router"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)
QUEUE_SIZE = 50
_STATUSES = ("open", "approved", "rejected")


@router.get("/requests")
def queue(
    *,
    request: Request,
    vault: VaultDep,
    settings: SettingsDep,
    user: UserDep,
    status: str = "open",
    before: int | None = None,
) -> Response:
    """Change requests newest first, open ones by default."""
    if status not in (*_STATUSES, "all"):
        raise InvalidInputError(
            f"status must be one of {', '.join(_STATUSES)} or all", details={"field": "status"}
        )
    rows = vault.requests.list(
        status=None if status == "all" else status, before=before, limit=QUEUE_SIZE + 1
    )
    more = len(rows) > QUEUE_SIZE
    rows = rows[:QUEUE_SIZE]
    return page(
        request,
        "requests.html",
        {
            "rows": rows,
            "status": status,
            "statuses": (*_STATUSES, "all"),
            "older": rows[-1].id if more and rows else None,
            "approval_labels": settings.approval_labels,
        },
    )


def _request_id(value: str) -> int:
    return parse_int(value, field="id", minimum=1)


@router.get("/requests/{request_id}")
def request_page(request: Request, request_id: str, vault: VaultDep, user: UserDep) -> Response:
    """One request: what moves, the diff, the discussion, and the decision buttons."""
    change = vault.requests.get(_request_id(request_id))
    target = vault.get(change.prompt, version=change.to_version)
    current = (
        vault.get(change.prompt, version=change.from_version)
        if change.from_version is not None
        else None
    )
    # The request outlives label changes: say where the label points now.
    labels = vault.labels(change.prompt)
    return page(
        request,
        "request.html",
        {
            "r": change,
            "target": target,
            "current": current,
            "d": diff_view(vault, current, target) if current is not None else None,
            "comments": vault.requests.comments(change.prompt, request=change.id),
            "label_now": labels.get(change.label),
            "gate": vault.evals.check_gate(change.prompt, change.label, change.to_version),
            "may_decide": change.status == "open" and user.can_approve,
            "is_mine": change.created_by == user.key.name,
        },
    )


async def _decide(request: Request, request_id: str, vault: Any, user: User, how: str) -> Response:
    form = await checked_form(request, user, Permission.APPROVE)
    number = _request_id(request_id)
    comment = str(form.get("comment") or "")
    decide = vault.approve_request if how == "approve" else vault.requests.reject
    done = await run_in_threadpool(lambda: decide(number, actor=user.key.name, comment=comment))
    if how == "approve":
        text = f"Approved: {done.label} of {done.prompt} now points at version {done.to_version}"
    else:
        text = f"Rejected change request #{done.id}: nothing moved"
    return flash(redirect(f"/requests/{done.id}"), text)


@router.post("/requests/{request_id}/approve")
async def approve(request: Request, request_id: str, vault: VaultDep, user: UserDep) -> Response:
    """Approve and move the label (not one's own request)."""
    return await _decide(request, request_id, vault, user, "approve")


@router.post("/requests/{request_id}/reject")
async def reject(request: Request, request_id: str, vault: VaultDep, user: UserDep) -> Response:
    """Reject: nothing moves."""
    return await _decide(request, request_id, vault, user, "reject")


@router.post("/requests/{request_id}/comment")
async def comment_on_request(
    request: Request, request_id: str, vault: VaultDep, user: UserDep
) -> Response:
    """Add to a request's discussion."""
    form = await checked_form(request, user, Permission.WRITE)
    change = await run_in_threadpool(vault.requests.get, _request_id(request_id))
    body = str(form.get("body") or "")
    await run_in_threadpool(
        lambda: vault.requests.comment(change.prompt, body, request=change.id, actor=user.key.name)
    )
    return flash(redirect(f"/requests/{change.id}"), "Comment added")


@router.post("/comments/{name:path}")
async def comment_on_version(
    request: Request, name: str, vault: VaultDep, user: UserDep
) -> Response:
    """Comment on a version, from the prompt's page."""
    form = await checked_form(request, user, Permission.WRITE)
    version = parse_int(str(form.get("version") or ""), field="version", minimum=1)
    body = str(form.get("body") or "")
    await run_in_threadpool(
        lambda: vault.requests.comment(name, body, version=version, actor=user.key.name)
    )
    return flash(redirect(f"{prompt_url(name)}?v={version}#comments"), "Comment added")
