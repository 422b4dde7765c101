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

__all__ = ["RequestRepository"]

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


def _request(row: ChangeRequestRow, prompt: str) -> dict[str, Any]:
    out = {f: getattr(row, f) for f in _FIELDS}
    out["prompt"] = prompt
    return out


def _comment(row: CommentRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": row.version,
        "request": row.request_id,
        "body": row.body,
        "author": row.author,
        "created_at": row.created_at,
    }


class RequestRepository:
    """The change request and comment tables within one transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def insert(self, **values: Any) -> int:
        """A new request (``values``: its columns); returns its id."""
        row = ChangeRequestRow(**values)
        self._session.add(row)
        self._session.flush()
        return int(row.id)

    def get(self, request_id: int) -> dict[str, Any] | None:
        """One request's fields and its prompt's name (``prompt``), or None."""
        found = self._session.execute(
            select(ChangeRequestRow, PromptRow.name)
            .join(PromptRow, PromptRow.id == ChangeRequestRow.prompt_id)
            .where(ChangeRequestRow.id == request_id)
        ).first()
        return None if found is None else _request(found[0], str(found[1]))

    def find(
        self,
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
        rows = self._session.execute(query.order_by(ChangeRequestRow.id.desc()).limit(limit))
        return [_request(row, str(name)) for row, name in rows.all()]

    def count(self, *, status: str) -> int:
        """How many requests are in ``status``."""
        query = (
            select(func.count())
            .select_from(ChangeRequestRow)
            .where(ChangeRequestRow.status == status)
        )
        return int(self._session.execute(query).scalar_one())

    def decide(
        self, request_id: int, *, status: str, at: datetime, actor: str, comment: str
    ) -> None:
        """Record the decision (``approved`` or ``rejected``) on one request."""
        self._session.execute(
            update(ChangeRequestRow)
            .where(ChangeRequestRow.id == request_id)
            .values(status=status, decided_at=at, decided_by=actor, decision_comment=comment)
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
        row = CommentRow(
            prompt_id=prompt_id,
            version=version,
            request_id=request_id,
            body=body,
            author=author,
            created_at=at,
        )
        self._session.add(row)
        self._session.flush()
        return _comment(row)

    def comments(
        self, *, prompt_id: int, version: int | None, request_id: int | None
    ) -> list[dict[str, Any]]:
        """Comments on one version or one request, oldest first."""
        query = select(CommentRow).where(CommentRow.prompt_id == prompt_id)
        if request_id is not None:
            query = query.where(CommentRow.request_id == request_id)
        else:
            query = query.where(CommentRow.version == version, CommentRow.request_id.is_(None))
        rows = self._session.execute(query.order_by(CommentRow.id)).scalars()
        return [_comment(r) for r in rows]
