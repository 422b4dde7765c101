"""Pydantic values shared by every layer.

These are immutable values (``frozen``): repositories build them from rows, services return
them, the server serialises them and the SDK parses them back. ORM rows never leave storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from promptvault._values import (
    JSON_MAX_BYTES,
    JSON_MAX_DEPTH,
    MAX_INT,
    canonical_json,
    check_json_bounds,
    check_text,
    clamp_json,
    json_depth,
    parse_int,
)
from promptvault.errors import InvalidInputError

__all__ = [
    "refuse_lone_surrogates",
    "text_output",
    "API_KEY_PREFIX",
    "ApiKey",
    "AuditEntry",
    "AuditReport",
    "ChangeEvent",
    "ChangePage",
    "ConfigChange",
    "Example",
    "LabelEvent",
    "MessageDiff",
    "PromptDiff",
    "PromptRef",
    "PromptSummary",
    "PromptType",
    "PromptVersion",
    "PushResult",
    "Role",
    "Syntax",
    "Webhook",
    "WebhookDelivery",
    "WebhookFormat",
    "JSON_MAX_BYTES",
    "as_syntax",
    "JSON_MAX_DEPTH",
    "MAX_INT",
    "canonical_json",
    "check_json_bounds",
    "check_text",
    "clamp_json",
    "json_depth",
    "parse_int",
]

PromptType = Literal["text", "chat"]
Syntax = Literal["mustache", "jinja", "langfuse"]
Role = Literal["runtime", "viewer", "editor", "admin"]
WebhookFormat = Literal["standard", "slack"]


def as_syntax(value: str) -> Syntax:
    """A stored syntax name as the literal type (anything unknown reads as Mustache)."""
    if value == "jinja":
        return "jinja"
    if value == "langfuse":
        return "langfuse"
    return "mustache"


_PLAIN = frozenset({int, float, bool, type(None)})


def refuse_lone_surrogates(data: Any, prefix: str = "") -> None:
    """Raise InvalidInputError naming the first key or string in ``data`` (JSON-like: dicts,
    lists, scalars) that holds a lone surrogate, which is not text and cannot be encoded.

    ``prefix`` starts the field path (``"variables"`` gives ``variables.name``,
    ``variables.items.0``). A flat mapping of ASCII keys and strings, numbers, booleans and
    None, the usual render data, is cleared in one pass; anything else is walked
    iteratively, so a deeply nested document cannot exhaust the stack.
    """
    if type(data) is dict:
        plain = _PLAIN
        for key, value in data.items():
            if type(value) is str:
                if not value.isascii():
                    break
            elif type(value) not in plain:
                break
            if type(key) is not str or not key.isascii():
                break
        else:
            return
    _walk_for_surrogates(data, prefix)


def text_output(output: Any, variables: Any, placeholders: Any = None) -> Any:
    """``output`` (a rendered text or chat messages) when it is text; else InvalidInputError
    naming the variable or placeholder whose lone surrogate reached it, as the server names
    it in a request body.

    Renders check their output rather than every input: an ASCII string is cleared in O(1),
    so the warm render paths keep their speed. A lone surrogate in a value that the
    template does not use is therefore not refused by a render (a request body that
    carries one is, by the server, before any render).
    """
    if type(output) is str:
        if output.isascii() or _lone_surrogate(output) is None:
            return output
    else:
        try:
            refuse_lone_surrogates(output, "output")
        except InvalidInputError:
            pass
        else:
            return output
    if variables:
        refuse_lone_surrogates(variables, "variables")
    if placeholders:
        refuse_lone_surrogates(placeholders, "placeholders")
    raise InvalidInputError(
        "the rendered output contains a lone surrogate, which is not text",
        details={"field": "template"},
    )


def _lone_surrogate(text: str) -> int | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def _walk_for_surrogates(data: Any, prefix: str) -> None:
    stack: list[tuple[str, Any]] = [(prefix, data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            offset = _lone_surrogate(value)
            if offset is not None:
                field = path or "body"
                raise InvalidInputError(
                    f"{field} contains a lone surrogate ({value[offset]!r}), which is not text",
                    details={"field": field, "offset": offset},
                )
        elif isinstance(value, Mapping):
            for key, item in reversed(list(value.items())):
                child = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and _lone_surrogate(key) is not None:
                    raise InvalidInputError(
                        f"{path or 'body'} has a key with a lone surrogate ({key!r}), "
                        "which is not text",
                        details={"field": path or "body"},
                    )
                stack.append((child, item))
        elif isinstance(value, list | tuple):
            items = reversed(list(enumerate(value)))
            stack.extend((f"{path}.{i}" if path else str(i), v) for i, v in items)


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PromptVersion(_Value):
    """One immutable version of a prompt, plus where it was resolved from.

    ``template`` is a string for text prompts and a list of messages
    (``{"role", "content"}`` or ``{"type": "placeholder", "name"}``) for chat prompts.
    ``labels`` are the labels pointing at this version when it was read. ``experiment``
    and ``variant`` are set when the reference resolved through a running experiment.
    """

    name: str
    version: int
    type: PromptType = "text"
    syntax: Syntax = "mustache"
    template: str | list[dict[str, Any]]
    config: dict[str, Any] = Field(default_factory=dict)
    variables_schema: dict[str, Any] | None = None
    message: str = ""
    author: str = ""
    created_at: datetime
    hash: str
    labels: tuple[str, ...] = ()
    resolved_label: str | None = None
    experiment: str | None = None
    variant: str | None = None


class PushResult(_Value):
    """What a push did: the version now newest, and whether it was created by this push."""

    version: PromptVersion
    created: bool


class PromptRef(_Value):
    """A stored prompt as a transaction sees it: its key, name and newest version."""

    id: int
    name: str
    latest_version: int


class PromptSummary(_Value):
    """A prompt in a listing: identity, latest version and where its labels point."""

    name: str
    description: str = ""
    type: PromptType = "text"
    tags: tuple[str, ...] = ()
    latest_version: int | None = None
    # The content hash of the latest version: enough for ``push`` to tell an unchanged
    # file without reading the version (None from a server that does not send it).
    latest_hash: str | None = None
    labels: dict[str, int] = Field(default_factory=dict)
    archived: bool = False
    created_at: datetime
    updated_at: datetime
    updated_by: str = ""


class LabelEvent(_Value):
    """One move of a label: from which version (None when created) to which.

    ``changed`` is False when a move asked for the version the label already held: nothing
    was recorded (no history row, no audit entry) and ``id`` is the label's last real move
    (0 when it has none).
    """

    id: int
    name: str
    label: str
    from_version: int | None
    to_version: int
    actor: str
    action: Literal["set", "rollback", "delete"] = "set"
    at: datetime
    changed: bool = True


class AuditEntry(_Value):
    """One link of the hash-chained audit log."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


class ChangeEvent(_Value):
    """One change (a version pushed, a label moved, ...) as the outbox recorded it.

    ``id`` only grows: page on with ``after=<last id>``. ``prompt`` is the prompt the change
    concerns (None for changes of no single prompt); ``payload`` holds the type's fields
    (see docs/events.md).
    """

    id: int
    type: str
    at: datetime
    actor: str
    prompt: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class ChangePage(_Value):
    """Change events after a cursor, and where to go on from.

    ``cursor`` is what to pass as ``after`` next: the last event's id when the page is full,
    else the newest id scanned (so a prefix filter that matched nothing still moves on).
    ``last_id`` is the newest event in the database when the page was read.
    """

    items: list[ChangeEvent]
    cursor: int
    last_id: int


class AuditReport(_Value):
    """Result of walking the audit chain: ``ok`` or the first broken link and why."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str | None = None
    problem: (
        Literal[
            "entry_missing",
            "entry_altered",
            "link_broken",
            "tail_missing",
            "chain_rewritten",
            "checkpoint_missing",
            "checkpoint_forged",
            "checkpoint_foreign_key",
            "entries_unanchored",
        ]
        | None
    ) = None
    head_checkpoint: int | None = None


class Example(_Value):
    """One few-shot example of a collection.

    ``quality`` is a 0..1 score (higher is better); ``metadata`` holds free-form JSON used by
    selection filters. The embedding is not part of the value: a collection's vectors live in
    one float32 matrix whose row order the service keeps next to the examples.
    """

    id: int
    collection: str = ""
    input: str
    output: str
    category: str | None = None
    quality: float = Field(default=1.0, ge=0.0, le=1.0)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    usage_count: int = Field(default=0, ge=0)


# Every API key starts with it: ``pv_<id>_<secret>``; ``pv_<id>`` names the key in listings.
API_KEY_PREFIX = "pv_"


class ApiKey(_Value):
    """An API key's public record (the secret itself is shown once, at creation, never again).

    ``role`` is one of ``runtime``, ``viewer``, ``editor``, ``admin``; ``prefix`` is the
    non-secret start of the key (``pv_<id>``) that identifies it in listings.
    """

    id: str
    name: str
    role: Role
    prefix: str
    created_at: datetime
    created_by: str = ""
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    replaced_by: str | None = None

    @property
    def expired(self) -> bool:
        """True once ``expires_at`` (set at creation, or by a rotation's grace) has passed."""
        return self.expires_at is not None and self.expires_at <= datetime.now(UTC)

    @property
    def active(self) -> bool:
        """True until the key is revoked or expires."""
        return self.revoked_at is None and not self.expired

    @property
    def state(self) -> Literal["active", "rotating", "expired", "revoked"]:
        """``rotating`` is a replaced key still inside its grace period."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expired:
            return "expired"
        return "rotating" if self.replaced_by else "active"


class Webhook(_Value):
    """A webhook subscription (its secret is shown once, at creation).

    ``event_types`` empty means every type (an entry ending in ``.*`` matches a prefix);
    ``prompt_prefix`` keeps only events of prompts whose name starts with it. ``cursor`` is
    the last change event done with (delivered, given up on or filtered out).
    """

    id: str
    url: str
    event_types: list[str]
    prompt_prefix: str | None = None
    format: WebhookFormat = "standard"
    description: str = ""
    enabled: bool = True
    disabled_reason: str | None = None
    created_at: datetime
    created_by: str = ""
    cursor: int = 0
    consecutive_failures: int = 0
    next_attempt_at: datetime | None = None


class WebhookDelivery(_Value):
    """One attempt to deliver one message to one endpoint.

    ``trigger`` is ``dispatch`` (the dispatcher), ``redeliver`` (by hand) or ``test``;
    ``ok`` means the endpoint answered 2xx.
    """

    id: int
    webhook_id: str
    event_id: int | None
    message_id: str
    event_type: str
    attempt: int
    trigger: str
    at: datetime
    ok: bool
    status_code: int | None = None
    duration_ms: float | None = None
    error: str | None = None


class ConfigChange(_Value):
    """One model-config key that differs between two versions (None = absent)."""

    key: str
    before: Any = None
    after: Any = None


class MessageDiff(_Value):
    """Unified diff of one message (chat) or of the whole template (text, ``index`` 0)."""

    index: int
    role_before: str | None = None
    role_after: str | None = None
    diff: str = ""


class PromptDiff(_Value):
    """What changed between two versions: template text, config, schema, syntax, type."""

    a_ref: str
    b_ref: str
    a_version: int
    b_version: int
    messages: tuple[MessageDiff, ...] = ()
    config_changes: tuple[ConfigChange, ...] = ()
    schema_changed: bool = False
    schema_before: dict[str, Any] | None = None
    schema_after: dict[str, Any] | None = None
    syntax_changed: bool = False
    type_changed: bool = False

    @property
    def identical(self) -> bool:
        """True when nothing differs."""
        return not (
            any(m.diff for m in self.messages)
            or self.config_changes
            or self.schema_changed
            or self.syntax_changed
            or self.type_changed
        )

    @property
    def unified(self) -> str:
        """Everything as one readable text: template diffs, then config and schema lines."""
        parts = [m.diff for m in self.messages if m.diff]
        for change in self.config_changes:
            parts.append(f"config.{change.key}: {change.before!r} -> {change.after!r}\n")
        if self.schema_changed:
            parts.append("variables_schema changed\n")
        if self.syntax_changed:
            parts.append("syntax changed\n")
        if self.type_changed:
            parts.append("type changed\n")
        return "".join(parts)
