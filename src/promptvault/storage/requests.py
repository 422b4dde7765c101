"""Change requests and comments as a unit of work sees them (``work.requests``): dicts.

Four-eyes approval (``registry/approvals.py``) works through :class:`RequestRepository`;
requests and comments come back as dicts of their fields, and a request's decision is
written by an explicit call. No ORM row leaves this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from promptvault.storage.tables import ChangeRequestRow, CommentRow, PromptRow

__all__ = [
    "RequestRepository",
    "comment_rows",
    "count_requests",
    "insert_comment",
    "insert_request",
    "request_dict",
    "request_row",
    "request_rows",
    "decide_request",
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


def decide_request(
    session: Session, request_id: int, *, status: str, at: datetime, actor: str, comment: str
) -> None:
    """Record the decision on one request."""
    session.execute(
        update(ChangeRequestRow)
        .where(ChangeRequestRow.id == request_id)
        .values(status=status, decided_at=at, decided_by=actor, decision_comment=comment)
    )


class RequestRepository:
    """The change request and comment tables within one transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def insert(self, **values: Any) -> int:
        """A new request (``values``: its columns); returns its id."""
        return insert_request(self._session, **values)

    def get(self, request_id: int) -> dict[str, Any] | None:
        """One request's fields and its prompt's name (``prompt``), or None."""
        return request_dict(self._session, request_id)

    def find(
        self,
        *,
        status: str | None = None,
        prompt: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Requests newest first (filters: :func:`request_rows`)."""
        return request_rows(self._session, status=status, prompt=prompt, before=before, limit=limit)

    def count(self, *, status: str) -> int:
        """How many requests are in ``status``."""
        return count_requests(self._session, status=status)

    def decide(
        self, request_id: int, *, status: str, at: datetime, actor: str, comment: str
    ) -> None:
        """Record the decision (``approved`` or ``rejected``) on one request."""
        decide_request(
            self._session, request_id, status=status, at=at, actor=actor, comment=comment
        )

    def insert_comment(
        self,
        *,
        prompt_id: int,
        version: int | None,
        request_id: int | None,
        body: str,
        author: str,
        at: datetime,
    ) -> dict[str, Any]:
        """A new comment, as a dict."""
        return insert_comment(
            self._session,
            prompt_id=prompt_id,
            version=version,
            request_id=request_id,
            body=body,
            author=author,
            at=at,
        )

    def comments(
        self, *, prompt_id: int, version: int | None, request_id: int | None
    ) -> list[dict[str, Any]]:
        """Comments on one version or one request, oldest first."""
        return comment_rows(
            self._session, prompt_id=prompt_id, version=version, request_id=request_id
        )
