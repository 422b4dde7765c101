"""Langfuse's prompt shapes (its public API, v2) and their translation to promptvault's.

A Langfuse prompt version is a promptvault version seen through Langfuse's field names:
``prompt`` is the template, ``commitMessage`` the message, ``tags`` the prompt's tags, and
``labels`` the labels pointing at the version plus ``latest`` on the newest one (Langfuse
lists it, promptvault keeps it implicit). Prompts written through this API are stored with
the ``langfuse`` syntax, so promptvault renders them as Langfuse's ``compile()`` does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from promptvault.entities import PromptSummary, PromptVersion
from promptvault.errors import InvalidInputError
from promptvault.registry.refs import LATEST

__all__ = [
    "LANGFUSE_ERRORS",
    "CreateLangfusePrompt",
    "LangfuseError",
    "UpdateLangfuseLabels",
    "langfuse_messages",
    "langfuse_prompt",
    "version_labels",
]


class LangfuseError(BaseModel):
    """Every error answer on these routes, as Langfuse sends it."""

    message: str
    error: str


def _doc(description: str) -> dict[str, Any]:
    return {"model": LangfuseError, "description": description}


LANGFUSE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _doc("Invalid request (InvalidRequestError)"),
    401: _doc("No key pair, or an unknown or revoked one (UnauthorizedError)"),
    403: _doc("The key's role does not allow this (ForbiddenError)"),
    404: _doc("Prompt, version or label not found (LangfuseNotFoundError)"),
    409: _doc("Conflicts with the current state (LangfuseConflictError)"),
    413: _doc("Request body or template too large"),
    429: _doc("Too many failed authentication attempts"),
    503: _doc("The database is unavailable"),
}


class _Body(BaseModel):
    # Langfuse ignores fields it does not know; an SDK newer than this API must still work.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class CreateLangfusePrompt(_Body):
    """``POST /api/public/v2/prompts``: a text or chat prompt version."""

    name: str = Field(min_length=1, max_length=255)
    prompt: str | list[dict[str, Any]]
    type: Literal["text", "chat"] | None = None
    config: Any = None
    labels: list[str] | None = None
    tags: list[str] | None = None
    commit_message: str | None = Field(default=None, alias="commitMessage")


class UpdateLangfuseLabels(_Body):
    """``PATCH /api/public/v2/prompts/{name}/versions/{version}``."""

    new_labels: list[str] = Field(alias="newLabels")


def langfuse_messages(prompt: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Langfuse chat items as promptvault messages and placeholders.

    Langfuse marks a message ``"type": "chatmessage"`` (or not at all) and a placeholder
    ``"type": "placeholder"``; promptvault's message needs no type, so it is dropped.
    """
    out: list[dict[str, Any]] = []
    for index, item in enumerate(prompt):
        kind = item.get("type")
        if kind == "placeholder":
            out.append({"type": "placeholder", "name": item.get("name")})
        elif kind in (None, "chatmessage", "message"):
            out.append({k: v for k, v in item.items() if k != "type"})
        else:
            raise InvalidInputError(
                f"prompt[{index}].type must be 'chatmessage' or 'placeholder', not {kind!r}",
                details={"field": f"prompt[{index}].type", "value": repr(kind)},
            )
    return out


def _prompt_out(template: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if isinstance(template, str):
        return template
    out: list[dict[str, Any]] = []
    for item in template:
        if item.get("type") == "placeholder":
            out.append({"type": "placeholder", "name": item.get("name")})
        else:
            out.append({"type": "chatmessage", **item})
    return out


def version_labels(summary: PromptSummary, version: int) -> list[str]:
    """The labels on ``version``, ``latest`` included when it is the newest."""
    labels = sorted(label for label, at in summary.labels.items() if at == version)
    if summary.latest_version == version:
        labels.append(LATEST)
    return labels


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def langfuse_prompt(version: PromptVersion, summary: PromptSummary) -> dict[str, Any]:
    """One version in Langfuse's ``Prompt`` shape (plus its author and time, as Langfuse)."""
    return {
        "name": version.name,
        "type": version.type,
        "prompt": _prompt_out(version.template),
        "version": version.version,
        "config": version.config,
        "labels": version_labels(summary, version.version),
        "tags": list(summary.tags),
        "commitMessage": version.message or None,
        "resolutionGraph": None,
        "createdAt": _iso(version.created_at),
        "updatedAt": _iso(version.created_at),
        "createdBy": version.author,
    }


def langfuse_meta(
    summary: PromptSummary, versions: list[PromptVersion]
) -> dict[str, Any]:  # newest first
    """One prompt in Langfuse's ``PromptMeta`` shape, over the versions that matched."""
    labels: set[str] = set()
    for v in versions:
        labels.update(version_labels(summary, v.version))
    newest = versions[0]
    return {
        "name": summary.name,
        "type": summary.type,
        "versions": sorted(v.version for v in versions),
        "labels": sorted(labels),
        "tags": list(summary.tags),
        "lastUpdatedAt": _iso(max(v.created_at for v in versions)),
        "lastConfig": newest.config,
    }
