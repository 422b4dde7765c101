"""Request and response bodies shared by the routers."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from promptvault.entities import MAX_INT, ApiKey, PromptType, Role, Syntax

__all__ = [
    "CreateKeyBody",
    "CreatedKey",
    "LabelBody",
    "Labels",
    "Page",
    "PushBody",
    "RenderBody",
    "Rendered",
]

T = TypeVar("T")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class Labels(BaseModel):
    """Where each label of a prompt points (``latest`` is implicit)."""

    labels: dict[str, int]


class CreateKeyBody(_Body):
    """A new API key."""

    name: str = Field(min_length=1, max_length=200)
    role: Role


class CreatedKey(BaseModel):
    """A key just created: ``key`` is the secret, shown this once and never again."""

    key: str
    api_key: ApiKey
