"""The REST calls the SDK makes, described once and executed by the sync and async clients.

Each call is a :class:`Call`: method, path, query, JSON body, whether it may be retried, and
how to turn the JSON answer into an entity. Names are put in paths as they are (slashes
included, each segment percent-quoted) because the server routes ``{name:path}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from promptvault.entities import (
    AuditEntry,
    AuditReport,
    ChangePage,
    LabelEvent,
    PromptDiff,
    PromptSummary,
    PromptVersion,
    PushResult,
)
from promptvault.registry.refs import check_name

__all__ = ["Call", "Page", "prompt_path"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing and the cursor of the next page (None on the last)."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One HTTP request and the parser of its JSON answer."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    # GET and PUT are safe to repeat; POST (push, rollback) is not and is never retried.
    idempotent: bool = True
    # The answer is text (an export), handed to ``parse`` as it is rather than as JSON.
    text: bool = False


def prompt_path(name: str, *suffix: str) -> str:
    """``/v1/prompts/<name>/<suffix...>`` with every segment quoted but slashes kept.

    The name is checked first: a ``..`` segment would be resolved away by the URL (``x/../y``
    would reach prompt ``y``), so only a valid name goes into a path.
    """
    check_name(name)
    parts = [quote(name, safe="/")] + [quote(s, safe="") for s in suffix]
    return "/v1/prompts/" + "/".join(parts)


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _version(data: Any) -> PromptVersion:
    return PromptVersion.model_validate(data)


def _push_result(data: Any) -> PushResult:
    return PushResult.model_validate(data)


def _summary(data: Any) -> PromptSummary:
    return PromptSummary.model_validate(data)


def _page(parse: Callable[[Any], T]) -> Callable[[Any], Page[T]]:
    def run(data: Any) -> Page[T]:
        return Page([parse(item) for item in data["items"]], data.get("next_cursor"))

    return run


def resolve(name: str, *, label: str | None, version: int | None) -> Call[PromptVersion]:
    """GET resolve by label or version."""
    return Call(
        "GET",
        prompt_path(name, "resolve"),
        _version,
        params=_clean({"label": label, "version": version}),
    )


def push(name: str, body: dict[str, Any]) -> Call[PushResult]:
    """POST a new version (not retried: a lost answer must not push twice)."""
    return Call("POST", prompt_path(name, "versions"), _push_result, json=body, idempotent=False)


def _event(data: Any) -> LabelEvent:
    return LabelEvent.model_validate(data)


def set_label(
    name: str, label: str, version: int, *, override_gate: bool = False
) -> Call[LabelEvent]:
    """PUT a label on a version (repeating it changes nothing)."""
    body: dict[str, Any] = {"version": version}
    if override_gate:  # only when asked: older servers refuse unknown fields
        body["override_gate"] = True
    return Call("PUT", prompt_path(name, "labels", label), _event, json=body)


def delete_label(name: str, label: str) -> Call[LabelEvent]:
    """DELETE a label."""
    return Call("DELETE", prompt_path(name, "labels", label), _event, idempotent=False)


def rollback(name: str, label: str) -> Call[LabelEvent]:
    """POST a rollback (each call moves the label one step further back: never retried)."""
    return Call("POST", prompt_path(name, "labels", label, "rollback"), _event, idempotent=False)


def labels(name: str) -> Call[dict[str, int]]:
    """GET where each label of a prompt points."""
    return Call(
        "GET",
        prompt_path(name, "labels"),
        lambda data: {str(k): int(v) for k, v in data["labels"].items()},
    )


def label_history(name: str, label: str | None) -> Call[list[LabelEvent]]:
    """GET every move of one label (or of every label when None), newest first."""
    path = (
        prompt_path(name, "label-history")
        if label is None
        else prompt_path(name, "labels", label, "history")
    )
    return Call(
        "GET",
        path,
        lambda data: [_event(item) for item in data["items"]],
    )


def versions(name: str, *, limit: int | None, before: int | None) -> Call[Page[PromptVersion]]:
    """GET one page of versions, newest first."""
    return Call(
        "GET",
        prompt_path(name, "versions"),
        _page(_version),
        params=_clean({"limit": limit, "cursor": before}),
    )


def get_version(name: str, version: int) -> Call[PromptVersion]:
    """GET one version by number."""
    return Call("GET", prompt_path(name, "versions", str(version)), _version)


def get_prompt(name: str) -> Call[PromptSummary]:
    """GET a prompt's summary."""
    return Call("GET", prompt_path(name), _summary)


def archive(name: str) -> Call[PromptSummary]:
    """DELETE (archive) a prompt."""
    return Call("DELETE", prompt_path(name), _summary, idempotent=False)


def list_prompts(
    *,
    tag: str | None,
    search: str | None,
    folder: str | None,
    include_archived: bool,
    limit: int | None,
    after: str | None,
) -> Call[Page[PromptSummary]]:
    """GET one page of prompts, by name."""
    params = _clean(
        {"tag": tag, "search": search, "folder": folder, "limit": limit, "cursor": after}
    )
    if include_archived:
        params["include_archived"] = "true"
    return Call("GET", "/v1/prompts", _page(_summary), params=params)


def diff(name: str, a: str, b: str) -> Call[PromptDiff]:
    """GET the diff of two versions or labels of one prompt."""
    return Call(
        "GET",
        prompt_path(name, "diff"),
        PromptDiff.model_validate,
        params={"from": a, "to": b},
    )


# The server answers at most this many audit entries a page.
AUDIT_PAGE = 1000


def audit_entries(
    *,
    since: datetime | None,
    actor: str | None,
    action: str | None,
    target: str | None,
    limit: int,
    after_seq: int | None,
) -> Call[Page[AuditEntry]]:
    """GET one page of audit entries, oldest first, after ``after_seq``."""
    params = _clean(
        {
            "since": since.isoformat() if since is not None else None,
            "actor": actor,
            "action": action,
            "target": target,
            "limit": limit,
            "cursor": after_seq,
        }
    )
    return Call("GET", "/v1/audit", _page(AuditEntry.model_validate), params=params)


def change_events(*, after: int, limit: int, prefix: str | None) -> Call[ChangePage]:
    """GET change events after ``after`` (one page, with the cursor to go on from)."""
    params = _clean({"after": after, "limit": limit, "prefix": prefix})
    return Call("GET", "/v1/events/changes", ChangePage.model_validate, params=params)


def audit_verify() -> Call[AuditReport]:
    """POST a walk of the audit chain (admin keys); repeating it changes nothing."""
    return Call("POST", "/v1/audit/verify", AuditReport.model_validate)


def push_body(
    *,
    template: str | Sequence[Mapping[str, Any]],
    syntax: str,
    type: str | None,
    config: Mapping[str, Any] | None,
    variables_schema: Mapping[str, Any] | None,
    message: str,
    tags: Sequence[str] | None,
    labels: Sequence[str] | None,
    description: str | None,
    allow_missing_partials: bool = False,
) -> dict[str, Any]:
    """The JSON body of a push, leaving out what the caller did not give."""
    body: dict[str, Any] = {
        "template": template if isinstance(template, str) else [dict(m) for m in template],
        "syntax": syntax,
        "message": message,
    }
    optional = {
        "type": type,
        "config": dict(config) if config is not None else None,
        "variables_schema": dict(variables_schema) if variables_schema is not None else None,
        "tags": list(tags) if tags is not None else None,
        "labels": list(labels) if labels is not None else None,
        "description": description,
    }
    body.update(_clean(optional))
    if allow_missing_partials:  # only when asked: older servers refuse unknown fields
        body["allow_missing_partials"] = True
    return body
