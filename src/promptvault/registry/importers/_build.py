"""Export items from parsed foreign prompts: validated, hashed, with labels and history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from promptvault.errors import PromptVaultError
from promptvault.registry.refs import is_valid_label
from promptvault.registry.validation import check_push

__all__ = ["ForeignVersion", "prompt_item"]


@dataclass
class ForeignVersion:
    """One version as another tool holds it, already in promptvault's template shapes."""

    version: int
    template: str | list[dict[str, Any]]
    syntax: str = "mustache"
    config: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    author: str = ""
    created_at: datetime | str | None = None
    labels: list[str] = field(default_factory=list)


def prompt_item(
    name: str,
    versions: list[ForeignVersion],
    *,
    tags: list[str],
    actor: str,
    where: str,
    notes: list[str],
    default_production: bool = False,
) -> dict[str, Any]:
    """An export item for ``name``; invalid labels are left out and noted.

    ``default_production`` gives the newest version ``production`` when the source has no
    labels at all (a format without labels: its prompts are meant to be served).
    """
    versions = sorted(versions, key=lambda v: v.version)
    out: list[dict[str, Any]] = []
    labels: dict[str, int] = {}
    history: list[dict[str, Any]] = []
    for v in versions:
        try:
            checked = check_push(
                template=v.template,
                syntax=v.syntax,
                type=None,
                config=v.config,
                variables_schema=None,
                tags=tags,
                labels=None,
                partials=lambda _ref: "",
            )
        except PromptVaultError as err:
            err.details.setdefault("location", f"{where} version {v.version}")
            err.message = f"{where} version {v.version}: {err.message}"
            raise
        created = v.created_at.isoformat() if isinstance(v.created_at, datetime) else v.created_at
        out.append(
            {
                "version": v.version,
                "type": checked.type,
                "syntax": checked.syntax,
                "template": checked.template,
                "config": checked.config,
                "variables_schema": None,
                "message": v.message,
                "author": v.author,
                "created_at": created,
                "hash": checked.hash,
            }
        )
        for label in v.labels:
            if label == "latest":
                continue
            if not is_valid_label(label):
                notes.append(f"{name}: label {label!r} is not a valid promptvault label")
                continue
            labels[label] = v.version
    if default_production and not labels:
        labels["production"] = out[-1]["version"]
    for label, number in sorted(labels.items()):
        at = next(v["created_at"] for v in out if v["version"] == number)
        history.append(
            {
                "label": label,
                "from_version": None,
                "to_version": number,
                "action": "set",
                "actor": actor,
                "at": at,
            }
        )
    return {
        "name": name,
        "description": "",
        "type": out[-1]["type"],
        "archived": False,
        "created_at": out[0]["created_at"],
        "created_by": out[0]["author"],
        "updated_at": out[-1]["created_at"],
        "updated_by": actor,
        "tags": sorted(set(tags)),
        "labels": labels,
        "versions": out,
        "label_history": history,
    }
