"""Rows of change requests and comments, as plain dicts (see ``registry/approvals.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from promptvault.storage.tables import ChangeRequestRow, CommentRow, PromptRow

__all__ = [
    "comment_rows",
    "count_requests",
    "insert_comment",
    "insert_request",
    "request_dict",
    "request_row",
    "request_rows",
]

_FIELDS = (
    "id",
    "label",
    "from_version",
    "to_version",
    "status",
    "comment",
    "created_at",
    "created_by",
    "decided_at",
    "decided_by",
    "decision_comment",
)


def _as_dict(row: ChangeRequestRow, prompt: str) -> dict[str, Any]:
    out = {f: getattr(row, f) for f in _FIELDS}
    out["prompt"] = prompt
    return out


def insert_request(session: Session, **values: Any) -> int:
    """A new request row; returns its id."""
    row = ChangeRequestRow(**values)
    session.add(row)
    session.flush()
    return int(row.id)


def request_row(session: Session, request_id: int) -> tuple[ChangeRequestRow, str] | None:
    """The row of one request and its prompt's name (None if there is no such request)."""
    found = session.execute(
        select(ChangeRequestRow, PromptRow.name)
        .join(PromptRow, PromptRow.id == ChangeRequestRow.prompt_id)
        .where(ChangeRequestRow.id == request_id)
    ).first()
    return None if found is None else (found[0], str(found[1]))


def request_dict(session: Session, request_id: int) -> dict[str, Any] | None:
    """One request as a dict (None if there is no such request)."""
    found = request_row(session, request_id)
    return None if found is None else _as_dict(*found)


def request_rows(
    session: Session,
    *,
    status: str | None = None,
    prompt: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Requests newest first, optionally in one status, of one prompt, older than an id."""
    query = select(ChangeRequestRow, PromptRow.name).join(
        PromptRow, PromptRow.id == ChangeRequestRow.prompt_id
    )
    if status is not None:
        query = query.where(ChangeRequestRow.status == status)
    if prompt is not None:
        query = query.where(PromptRow.name == prompt)
    if before is not None:
        query = query.where(ChangeRequestRow.id < before)
    rows = session.execute(query.order_by(ChangeRequestRow.id.desc()).limit(limit)).all()
    return [_as_dict(row, str(name)) for row, name in rows]


def count_requests(session: Session, *, status: str) -> int:
    """How many requests are in ``status``."""
    return int(
        session.execute(
            select(func.count())
            .select_from(ChangeRequestRow)
            .where(ChangeRequestRow.status == status)
        ).scalar_one()
    )


def insert_comment(
    session: Session,
    *,
    prompt_id: int,
    version: int | None,
    request_id: int | None,
    body: str,
    author: str,
    at: datetime,
) -> dict[str, Any]:
    """A new comment row, as a dict."""
    row = CommentRow(
        prompt_id=prompt_id,
        version=version,
        request_id=request_id,
        body=body,
        author=author,
        created_at=at,
    )
    session.add(row)
    session.flush()
    return _comment(row)


def _comment(row: CommentRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": row.version,
        "request": row.request_id,
        "body": row.body,
        "author": row.author,
        "created_at": row.created_at,
    }


def comment_rows(
    session: Session, *, prompt_id: int, version: int | None, request_id: int | None
) -> list[dict[str, Any]]:
    """Comments on one version or one request, oldest first."""
    query = select(CommentRow).where(CommentRow.prompt_id == prompt_id)
    if request_id is not None:
        query = query.where(CommentRow.request_id == request_id)
    else:
        query = query.where(CommentRow.version == version, CommentRow.request_id.is_(None))
    return [_comment(r) for r in session.execute(query.order_by(CommentRow.id)).scalars()]
