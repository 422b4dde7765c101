"""Request and response bodies shared by the routers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from promptvault.entities import MAX_INT, ApiKey, PromptType, Role, Syntax
from promptvault.errors import InvalidInputError
from promptvault.server.api._body import RequestBody

__all__ = [
    "CreateKeyBody",
    "CreatedKey",
    "LabelBody",
    "Labels",
    "Page",
    "PushBody",
    "RenderBody",
    "Rendered",
    "RotateKeyBody",
    "RotatedKey",
]

T = TypeVar("T")


class _Body(RequestBody):
    """A request body of this router."""


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass ``next_cursor`` as ``cursor`` for the next (None: done)."""

    items: list[T]
    next_cursor: str | None = None


class PushBody(_Body):
    """A new version. The author recorded is the API key's name."""

    template: str | list[dict[str, Any]] = Field(
        description="Template text, or a list of chat messages and placeholders."
    )
    syntax: Syntax = "mustache"
    type: PromptType | None = None
    config: dict[str, Any] | None = None
    variables_schema: dict[str, Any] | None = None
    message: str = ""
    tags: list[str] | None = None
    labels: list[str] | None = None
    description: str | None = None
    allow_missing_partials: bool = Field(
        default=False,
        description="Accept partials ({{> other}}) that name no prompt yet: a deliberate "
        "forward reference. A partial that leads back to this version is refused always.",
    )


class CreatePromptBody(PushBody):
    """A new prompt and its first version."""

    name: str


class RenderBody(_Body):
    """What to render: a label or a version (default: production) and the variables."""

    label: str | None = None
    version: int | None = Field(default=None, ge=1, le=MAX_INT)
    variables: dict[str, Any] = Field(default_factory=dict)
    placeholders: dict[str, list[dict[str, Any]]] | None = None
    strict: bool = True


class Rendered(BaseModel):
    """A rendered prompt: text, or a list of messages for chat prompts."""

    name: str
    version: int
    hash: str
    resolved_label: str | None = None
    output: str | list[dict[str, Any]]


class LabelBody(_Body):
    """Where to point a label."""

    version: int = Field(ge=1, le=MAX_INT)
    override_gate: bool = Field(
        default=False,
        description="Promote past a failing eval gate (admin only; recorded in the audit log).",
    )


class Labels(BaseModel):
    """Where each label of a prompt points (``latest`` is implicit)."""

    labels: dict[str, int]


class _Expiry(_Body):
    expires_at: datetime | None = Field(
        default=None, description="When the key stops working (ISO 8601 with a time zone)."
    )
    expires_in: int | None = Field(
        default=None, ge=60, le=100 * 365 * 86400, description="Or: seconds from now."
    )

    def expiry(self) -> datetime | None:
        """The requested expiry, from either field (both at once is refused)."""
        if self.expires_at is not None and self.expires_in is not None:
            raise InvalidInputError(
                "give expires_at or expires_in, not both", details={"field": "expires_in"}
            )
        if self.expires_in is not None:
            return datetime.now(UTC) + timedelta(seconds=self.expires_in)
        return self.expires_at


class CreateKeyBody(_Expiry):
    """A new API key, optionally expiring."""

    name: str = Field(min_length=1, max_length=200)
    role: Role


class RotateKeyBody(_Expiry):
    """Rotate a key: ``grace`` seconds of overlap (default: the server's setting); the new
    key's expiry (default: the old key's lifetime from now, or never)."""

    grace: int | None = Field(default=None, ge=0, le=365 * 86400)


class RotatedKey(BaseModel):
    """A rotation: the new ``key`` (shown this once), its record, and the replaced key."""

    key: str
    api_key: ApiKey
    replaced: ApiKey


class CreatedKey(BaseModel):
    """A key just created: ``key`` is the secret, shown this once and never again."""

    key: str
    api_key: ApiKey
