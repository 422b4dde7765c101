"""Four-eyes approval: change requests for label moves, and comments.

Roles: any reader lists and reads requests and comments; a writer (``editor``) requests a
move and comments; a key with the ``approve`` permission (``admin``) approves, which makes
the move, or rejects. Nobody approves their own request (``self_approval``, 403), whatever
their role. Labels in ``settings.approval_labels`` move only this way: direct moves answer
``approval_required`` (409).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field

from promptvault.entities import MAX_INT
from promptvault.registry.approvals import MAX_COMMENT, ChangeRequest, Comment
from promptvault.server.api._body import RequestBody
from promptvault.server.api._models import Page
from promptvault.server.auth import Approver, Reader, Writer
from promptvault.server.deps import VaultDep
from promptvault.server.errors import ERROR_RESPONSES

__all__ = ["comments_router", "router"]

RequestId = Annotated[int, Path(ge=1, le=MAX_INT)]
router = APIRouter(prefix="/v1/requests", tags=["approval"], responses=ERROR_RESPONSES)
comments_router = APIRouter(prefix="/v1/comments", tags=["approval"], responses=ERROR_RESPONSES)


class _Body(RequestBody):
    """A request body of this router."""


class CreateRequestBody(_Body):
    """Ask for ``label`` of ``prompt`` to point at ``version``."""

    prompt: str = Field(min_length=1, max_length=200)
    label: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1, le=MAX_INT)
    comment: str = Field(default="", max_length=MAX_COMMENT)


class DecisionBody(_Body):
    """Why (kept with the request and in the audit log)."""

    comment: str = Field(default="", max_length=MAX_COMMENT)


class CommentBody(_Body):
    """A comment on a version of ``prompt`` or on one of its requests (one of the two)."""

    prompt: str = Field(min_length=1, max_length=200)
    version: int | None = Field(default=None, ge=1, le=MAX_INT)
    request: int | None = Field(default=None, ge=1, le=MAX_INT)
    body: str = Field(min_length=1, max_length=MAX_COMMENT)


@router.get("", response_model=Page[ChangeRequest])
def list_requests(
    vault: VaultDep,
    _key: Reader,
    status: Literal["open", "approved", "rejected"] | None = None,
    prompt: Annotated[str | None, Query(max_length=200)] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[ChangeRequest]:
    """Requests newest first; ``before`` (an id) pages on."""
    items = vault.requests.list(status=status, prompt=prompt, before=before, limit=limit + 1)
    more = len(items) > limit
    items = items[:limit]
    return Page(items=items, next_cursor=str(items[-1].id) if more and items else None)


@router.post("", response_model=ChangeRequest, status_code=201)
def create_request(body: CreateRequestBody, vault: VaultDep, key: Writer) -> ChangeRequest:
    """Request a label move; nothing moves until an approver approves."""
    return vault.requests.request(
        body.prompt, body.label, body.version, actor=key.name, comment=body.comment
    )


@router.get("/{request_id}", response_model=ChangeRequest)
def get_request(request_id: RequestId, vault: VaultDep, _key: Reader) -> ChangeRequest:
    """One request."""
    return vault.requests.get(request_id)


@router.post("/{request_id}/approve", response_model=ChangeRequest)
def approve_request(
    request_id: RequestId, vault: VaultDep, key: Approver, body: DecisionBody | None = None
) -> ChangeRequest:
    """Approve and make the move (403 ``self_approval`` for the requester's own key name;
    409 when decided already or the label moved since)."""
    comment = body.comment if body else ""
    return vault.approve_request(request_id, actor=key.name, comment=comment)


@router.post("/{request_id}/reject", response_model=ChangeRequest)
def reject_request(
    request_id: RequestId, vault: VaultDep, key: Approver, body: DecisionBody | None = None
) -> ChangeRequest:
    """Reject: nothing moves."""
    comment = body.comment if body else ""
    return vault.requests.reject(request_id, actor=key.name, comment=comment)


@comments_router.get("", response_model=Page[Comment])
def list_comments(
    vault: VaultDep,
    _key: Reader,
    prompt: Annotated[str, Query(min_length=1, max_length=200)],
    version: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
    request: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
) -> Page[Comment]:
    """Comments on one version or one request of ``prompt``, oldest first."""
    return Page(items=vault.requests.comments(prompt, version=version, request=request))


@comments_router.post("", response_model=Comment, status_code=201)
def add_comment(body: CommentBody, vault: VaultDep, key: Writer) -> Comment:
    """Comment on a version or a change request."""
    return vault.requests.comment(
        body.prompt, body.body, version=body.version, request=body.request, actor=key.name
    )
