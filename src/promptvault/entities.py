"""Pydantic values shared by every layer.

These are immutable values (``frozen``): repositories build them from rows, services return
them, the server serialises them and the SDK parses them back. ORM rows never leave storage.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApiKey",
    "AuditEntry",
    "AuditReport",
    "ConfigChange",
    "Example",
    "LabelEvent",
    "MessageDiff",
    "PromptDiff",
    "PromptSummary",
    "PromptType",
    "PromptVersion",
    "PushResult",
    "Role",
    "Syntax",
    "canonical_json",
]

PromptType = Literal["text", "chat"]
Syntax = Literal["mustache", "jinja"]
Role = Literal["runtime", "viewer", "editor", "admin"]


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the same text for the same value everywhere.

    Content hashes and the audit chain are computed over this text, so every layer that
    hashes a value must serialise it here.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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


class PromptSummary(_Value):
    """A prompt in a listing: identity, latest version and where its labels point."""

    name: str
    description: str = ""
    type: PromptType = "text"
    tags: tuple[str, ...] = ()
    latest_version: int | None = None
    labels: dict[str, int] = Field(default_factory=dict)
    archived: bool = False
    created_at: datetime
    updated_at: datetime
    updated_by: str = ""


class LabelEvent(_Value):
    """One move of a label: from which version (None when created) to which."""

    id: int
    name: str
    label: str
    from_version: int | None
    to_version: int
    actor: str
    action: Literal["set", "rollback", "delete"] = "set"
    at: datetime


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

    @property
    def active(self) -> bool:
        """True until the key is revoked."""
        return self.revoked_at is None


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
