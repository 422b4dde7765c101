"""Four-eyes approval: change requests for label moves, and comments.

A label listed in ``Settings.approval_labels`` does not move on one person's say: a promote
becomes a :class:`ChangeRequest` (what moves, from which version to which, a comment), and
a different person with the ``approve`` permission approves it, which makes the move in the
same transaction, or rejects it. The server refuses direct moves of such labels
(``approval_required``); this module does not know about roles, the caller checks them
(:mod:`promptvault.server.auth`), as it does for protected labels.

Every step is audited against the prompt (``request.create``, ``request.approve``,
``request.reject``, ``comment.add``), so it also reaches the change stream. Comments hang on
a prompt version or on a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from promptvault.errors import (
    InvalidInputError,
    NotFoundError,
    RequestStateError,
    SelfApprovalError,
)
from promptvault.registry.refs import check_label
from promptvault.registry.service import Registry
from promptvault.storage import repositories as repo
from promptvault.storage import requests as store
from promptvault.storage.audit import append
from promptvault.storage.tables import PromptRow, utcnow
from promptvault.storage.unit_of_work import UnitOfWork

__all__ = ["MAX_COMMENT", "Approvals", "ChangeRequest", "Comment", "RequestStatus"]

RequestStatus = Literal["open", "approved", "rejected"]
_List = list  # ``list`` is also a method name below
MAX_COMMENT = 5000
_STATUSES = ("open", "approved", "rejected")


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChangeRequest(_Value):
    """A proposed move of ``label`` of ``prompt`` from ``from_version`` to ``to_version``."""

    id: int
    prompt: str
    label: str
    from_version: int | None
    to_version: int
    status: RequestStatus
    comment: str = ""
    created_at: datetime
    created_by: str = ""
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_comment: str = ""


class Comment(_Value):
    """A comment on a version (``version``) or on a change request (``request``)."""

    id: int
    version: int | None = None
    request: int | None = None
    body: str
    author: str = ""
    created_at: datetime


def _text(value: str, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{field} must be text", details={"field": field})
    value = value.strip()
    if len(value) > MAX_COMMENT:
        raise InvalidInputError(
            f"{field} is longer than {MAX_COMMENT} characters", details={"field": field}
        )
    return value


def _target(name: str) -> str:
    return f"prompt:{name}"


class Approvals:
    """Change requests and comments over the registry's database and label moves."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.db = registry.db

    # --- requests -------------------------------------------------------------------

    def request(
        self, name: str, label: str, version: int, *, actor: str = "", comment: str = ""
    ) -> ChangeRequest:
        """Ask for ``label`` to point at ``version`` (nothing moves until approved)."""
        check_label(label)
        comment = _text(comment, "comment")
        actor = actor or self.registry.actor

        def work(s: Session) -> int:
            prompt = self._prompt(s, name)
            if repo.version_row(s, prompt.id, version) is None:
                raise NotFoundError(
                    f"prompt {name!r} has no version {version}",
                    details={"field": "version", "value": version},
                )
            current = repo.labels_of(s, prompt.id).get(label)
            if current == version:
                raise RequestStateError(
                    f"{label} already points at version {version}: nothing to approve",
                    details={"field": "version", "label": label, "version": version},
                )
            now = utcnow()
            request_id = store.insert_request(
                s,
                prompt_id=prompt.id,
                label=label,
                from_version=current,
                to_version=version,
                status="open",
                comment=comment,
                created_at=now,
                created_by=actor,
                decision_comment="",
            )
            append(
                s,
                actor=actor,
                action="request.create",
                target=_target(name),
                details={
                    "request": request_id,
                    "label": label,
                    "from_version": current,
                    "to_version": version,
                },
                at=now,
            )
            return request_id

        return self.get(self.db.write(work))

    def get(self, request_id: int) -> ChangeRequest:
        """One request."""
        with self.db.read() as s:
            found = store.request_dict(s, request_id)
        if found is None:
            raise NotFoundError(
                f"no change request #{request_id}", details={"field": "id", "value": request_id}
            )
        return ChangeRequest(**found)

    def list(
        self,
        *,
        status: str | None = None,
        prompt: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[ChangeRequest]:
        """Requests newest first (``status``: open, approved or rejected)."""
        if status is not None and status not in _STATUSES:
            raise InvalidInputError(
                f"status must be one of {', '.join(_STATUSES)}", details={"field": "status"}
            )
        with self.db.read() as s:
            rows = store.request_rows(s, status=status, prompt=prompt, before=before, limit=limit)
        return [ChangeRequest(**r) for r in rows]

    def open_count(self) -> int:
        """How many requests wait for a decision."""
        with self.db.read() as s:
            return store.count_requests(s, status="open")

    def approve(self, request_id: int, *, actor: str = "", comment: str = "") -> ChangeRequest:
        """Approve and make the move, in one transaction; the requester may not approve.

        Refused (``request_state``) when the request is decided, or when the label moved
        since the request was made: the diff the approver saw would no longer be the move.
        """
        return self._decide(request_id, "approved", actor=actor, comment=comment)

    def reject(self, request_id: int, *, actor: str = "", comment: str = "") -> ChangeRequest:
        """Reject: nothing moves."""
        return self._decide(request_id, "rejected", actor=actor, comment=comment)

    def _decide(
        self, request_id: int, status: RequestStatus, *, actor: str, comment: str
    ) -> ChangeRequest:
        comment = _text(comment, "comment")
        actor = actor or self.registry.actor
        moved: list[str] = []

        def work(s: Session) -> None:
            found = store.request_row(s, request_id)
            if found is None:
                raise NotFoundError(
                    f"no change request #{request_id}", details={"field": "id", "value": request_id}
                )
            row, name = found
            if row.status != "open":
                raise RequestStateError(
                    f"change request #{request_id} is already {row.status}",
                    details={"field": "id", "status": row.status},
                )
            if status == "approved" and row.created_by == actor:
                raise SelfApprovalError(
                    f"{actor} made change request #{request_id}: another person must approve it",
                    details={"field": "id", "requested_by": row.created_by},
                )
            now = utcnow()
            if status == "approved":
                prompt = self._prompt(s, name)
                current = repo.labels_of(s, prompt.id).get(row.label)
                if current != row.from_version:
                    raise RequestStateError(
                        f"{row.label} moved to version {current} since the request was made "
                        f"(from version {row.from_version}); ask for a new request",
                        details={"field": "id", "label": row.label, "current": current},
                    )
                self.registry.move_label_in(
                    UnitOfWork(s),
                    name,
                    row.label,
                    row.to_version,
                    actor=actor,
                    cause={"request": request_id, "requested_by": row.created_by},
                )
                moved.append(name)
            row.status = status
            row.decided_at = now
            row.decided_by = actor
            row.decision_comment = comment
            append(
                s,
                actor=actor,
                action="request.approve" if status == "approved" else "request.reject",
                target=_target(name),
                details={
                    "request": request_id,
                    "label": row.label,
                    "from_version": row.from_version,
                    "to_version": row.to_version,
                    "requested_by": row.created_by,
                },
                at=now,
            )

        self.db.write(work)
        for name in moved:
            self.registry.label_moved(name)
        return self.get(request_id)

    # --- comments -------------------------------------------------------------------

    def comment(
        self,
        name: str,
        body: str,
        *,
        version: int | None = None,
        request: int | None = None,
        actor: str = "",
    ) -> Comment:
        """Comment on a version of ``name`` or on one of its change requests."""
        body = _text(body, "body")
        if not body:
            raise InvalidInputError("write a comment", details={"field": "body"})
        if (version is None) == (request is None):
            raise InvalidInputError(
                "comment on a version or on a change request (one of them)",
                details={"field": "version"},
            )
        actor = actor or self.registry.actor

        def work(s: Session) -> dict[str, Any]:
            prompt = self._prompt(s, name)
            if version is not None and repo.version_row(s, prompt.id, version) is None:
                raise NotFoundError(
                    f"prompt {name!r} has no version {version}",
                    details={"field": "version", "value": version},
                )
            if request is not None:
                found = store.request_row(s, request)
                if found is None or found[0].prompt_id != prompt.id:
                    raise NotFoundError(
                        f"prompt {name!r} has no change request #{request}",
                        details={"field": "request", "value": request},
                    )
            now = utcnow()
            made = store.insert_comment(
                s,
                prompt_id=prompt.id,
                version=version,
                request_id=request,
                body=body,
                author=actor,
                at=now,
            )
            where: Mapping[str, Any] = {"version": version} if version else {"request": request}
            append(
                s,
                actor=actor,
                action="comment.add",
                target=_target(name),
                details={"comment": made["id"], **where},
                at=now,
            )
            return made

        return Comment(**self.db.write(work))

    def comments(
        self, name: str, *, version: int | None = None, request: int | None = None
    ) -> _List[Comment]:
        """Comments on one version or one request of ``name``, oldest first."""
        with self.db.read() as s:
            prompt = repo.get_prompt(s, name)
            if prompt is None:
                return []
            rows = store.comment_rows(s, prompt_id=prompt.id, version=version, request_id=request)
        return [Comment(**r) for r in rows]

    def _prompt(self, s: Session, name: str) -> PromptRow:
        prompt = repo.get_prompt(s, name)
        if prompt is None:
            from promptvault.errors import PromptNotFound

            raise PromptNotFound(f"no prompt named {name!r}", details={"field": "name"})
        return prompt
