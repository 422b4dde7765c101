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

from promptvault.entities import PromptRef
from promptvault.errors import (
    InvalidInputError,
    NotFoundError,
    PromptNotFound,
    RequestStateError,
    SelfApprovalError,
)
from promptvault.registry.refs import check_label
from promptvault.registry.service import Registry
from promptvault.storage.unit_of_work import UnitOfWork, utcnow

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

        def change(work: UnitOfWork) -> int:
            prompt = self._prompt(work, name)
            if not work.prompts.has_version(prompt.id, version):
                raise NotFoundError(
                    f"prompt {name!r} has no version {version}",
                    details={"field": "version", "value": version},
                )
            current = work.prompts.labels(prompt.id).get(label)
            if current == version:
                raise RequestStateError(
                    f"{label} already points at version {version}: nothing to approve",
                    details={"field": "version", "label": label, "version": version},
                )
            now = utcnow()
            request_id = work.requests.insert(
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
            work.audit(
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

        return self.get(self.db.write_work(change))

    def get(self, request_id: int) -> ChangeRequest:
        """One request."""
        with self.db.read_work() as work:
            found = work.requests.get(request_id)
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
        with self.db.read_work() as work:
            rows = work.requests.find(status=status, prompt=prompt, before=before, limit=limit)
        return [ChangeRequest(**r) for r in rows]

    def open_count(self) -> int:
        """How many requests wait for a decision."""
        with self.db.read_work() as work:
            return work.requests.count(status="open")

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

        def change(work: UnitOfWork) -> None:
            found = work.requests.get(request_id)
            if found is None:
                raise NotFoundError(
                    f"no change request #{request_id}", details={"field": "id", "value": request_id}
                )
            asked = ChangeRequest(**found)
            name = asked.prompt
            if asked.status != "open":
                raise RequestStateError(
                    f"change request #{request_id} is already {asked.status}",
                    details={"field": "id", "status": asked.status},
                )
            if status == "approved" and asked.created_by == actor:
                raise SelfApprovalError(
                    f"{actor} made change request #{request_id}: another person must approve it",
                    details={"field": "id", "requested_by": asked.created_by},
                )
            now = utcnow()
            if status == "approved":
                prompt = self._prompt(work, name)
                current = work.prompts.labels(prompt.id).get(asked.label)
                if current != asked.from_version:
                    raise RequestStateError(
                        f"{asked.label} moved to version {current} since the request was made "
                        f"(from version {asked.from_version}); ask for a new request",
                        details={"field": "id", "label": asked.label, "current": current},
                    )
                self.registry.move_label_in(
                    work,
                    name,
                    asked.label,
                    asked.to_version,
                    actor=actor,
                    cause={"request": request_id, "requested_by": asked.created_by},
                )
                moved.append(name)
            work.requests.decide(request_id, status=status, at=now, actor=actor, comment=comment)
            work.audit(
                actor=actor,
                action="request.approve" if status == "approved" else "request.reject",
                target=_target(name),
                details={
                    "request": request_id,
                    "label": asked.label,
                    "from_version": asked.from_version,
                    "to_version": asked.to_version,
                    "requested_by": asked.created_by,
                },
                at=now,
            )

        self.db.write_work(change)
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

        def change(work: UnitOfWork) -> dict[str, Any]:
            prompt = self._prompt(work, name)
            if version is not None and not work.prompts.has_version(prompt.id, version):
                raise NotFoundError(
                    f"prompt {name!r} has no version {version}",
                    details={"field": "version", "value": version},
                )
            if request is not None:
                found = work.requests.get(request)
                # Prompt names are unique: the same name is the same prompt.
                if found is None or found["prompt"] != prompt.name:
                    raise NotFoundError(
                        f"prompt {name!r} has no change request #{request}",
                        details={"field": "request", "value": request},
                    )
            now = utcnow()
            made = work.requests.insert_comment(
                prompt_id=prompt.id,
                version=version,
                request_id=request,
                body=body,
                author=actor,
                at=now,
            )
            where: Mapping[str, Any] = {"version": version} if version else {"request": request}
            work.audit(
                actor=actor,
                action="comment.add",
                target=_target(name),
                details={"comment": made["id"], **where},
                at=now,
            )
            return made

        return Comment(**self.db.write_work(change))

    def comments(
        self, name: str, *, version: int | None = None, request: int | None = None
    ) -> _List[Comment]:
        """Comments on one version or one request of ``name``, oldest first."""
        with self.db.read_work() as work:
            prompt = work.prompts.get(name)
            if prompt is None:
                return []
            rows = work.requests.comments(prompt_id=prompt.id, version=version, request_id=request)
        return [Comment(**r) for r in rows]

    def _prompt(self, work: UnitOfWork, name: str) -> PromptRef:
        prompt = work.prompts.get(name)
        if prompt is None:
            raise PromptNotFound(f"no prompt named {name!r}", details={"field": "name"})
        return prompt
