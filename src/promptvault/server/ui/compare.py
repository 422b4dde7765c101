"""The diff view: two versions side by side or inline, word-level highlights, config table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response

from promptvault.entities import PromptDiff, PromptVersion
from promptvault.registry.refs import parse_int
from promptvault.server.deps import VaultDep
from promptvault.server.ui.views import UIRoute, UserDep, page
from promptvault.server.ui.worddiff import DiffRow, diff_rows
from promptvault.vault import Vault

__all__ = ["DiffView", "MessageView", "diff_view", "router"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)


@dataclass(frozen=True, slots=True)
class MessageView:
    """One message (or the whole text template) of a diff, as display rows."""

    index: int
    role_before: str | None
    role_after: str | None
    rows: list[DiffRow]
    changed: bool


@dataclass(frozen=True, slots=True)
class DiffView:
    """Everything the diff templates show about ``before`` -> ``after``."""

    before: PromptVersion
    after: PromptVersion
    summary: PromptDiff
    messages: list[MessageView]
    chat: bool

    @property
    def identical(self) -> bool:
        """Nothing differs."""
        return self.summary.identical


def _message_text(message: dict[str, Any] | None) -> tuple[str | None, str]:
    if message is None:
        return None, ""
    if message.get("type") == "placeholder":
        return "placeholder", f"{{placeholder: {message.get('name')}}}"
    content = message.get("content")
    if isinstance(content, str):
        return message.get("role"), content
    return message.get("role"), json.dumps(content, ensure_ascii=False, indent=2)


def _messages(template: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"role": None, "content": template}] if isinstance(template, str) else template


def diff_view(vault: Vault, before: PromptVersion, after: PromptVersion) -> DiffView:
    """Align the messages of two versions and diff each, with the Vault's config summary."""
    summary = vault.diff(f"{before.name}@{before.version}", f"{after.name}@{after.version}")
    a_msgs, b_msgs = _messages(before.template), _messages(after.template)
    views = []
    for index in range(max(len(a_msgs), len(b_msgs))):
        role_a, text_a = _message_text(a_msgs[index] if index < len(a_msgs) else None)
        role_b, text_b = _message_text(b_msgs[index] if index < len(b_msgs) else None)
        rows = diff_rows(text_a, text_b)
        changed = text_a != text_b or role_a != role_b
        views.append(MessageView(index, role_a, role_b, rows, changed))
    chat = before.type == "chat" or after.type == "chat"
    return DiffView(before, after, summary, views, chat)


def _version_number(value: str | None, field: str) -> int | None:
    if value is None or value == "":
        return None
    return parse_int(value, field=field, minimum=1)


@router.get("/diff/{name:path}")
def diff_page(
    *,
    request: Request,
    name: str,
    vault: VaultDep,
    user: UserDep,
    a: str | None = None,
    b: str | None = None,
    view: str = "auto",
) -> Response:
    """Compare versions ``a`` and ``b`` (default: the newest against the one before)."""
    summary = vault.get_prompt(name)
    latest = summary.latest_version or 1
    after_no = _version_number(b, "b") or latest
    before_no = _version_number(a, "a") or max(after_no - 1, 1)
    before = vault.get(name, version=before_no, include_archived=True)
    after = vault.get(name, version=after_no, include_archived=True)
    numbers = list(range(latest, 0, -1))
    return page(
        request,
        "diff.html",
        {
            "prompt": summary,
            "d": diff_view(vault, before, after),
            "numbers": numbers,
            # auto: side by side on wide screens, inline on phones (chosen by CSS)
            "view": view if view in ("split", "inline") else "auto",
        },
    )
