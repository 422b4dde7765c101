"""Diff two versions: unified text diff per message, config changes, schema change."""

from __future__ import annotations

import difflib
import json
from typing import Any

from promptvault.entities import ConfigChange, MessageDiff, PromptDiff, PromptVersion

__all__ = ["diff_versions"]


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def _unified(before: str, after: str, a_name: str, b_name: str) -> str:
    return "".join(difflib.unified_diff(_lines(before), _lines(after), a_name, b_name))


def _message_text(message: dict[str, Any] | None) -> tuple[str | None, str]:
    if message is None:
        return None, ""
    if message.get("type") == "placeholder":
        return "placeholder", f"{{placeholder: {message.get('name')}}}"
    content = message.get("content")
    return message.get("role"), content if isinstance(content, str) else json.dumps(content)


def _as_messages(template: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(template, str):
        return [{"role": None, "content": template}]
    return list(template)


def diff_versions(
    a: PromptVersion, b: PromptVersion, *, a_ref: str | None = None, b_ref: str | None = None
) -> PromptDiff:
    """Compare ``a`` (before) with ``b`` (after)."""
    a_label = a_ref or f"{a.name}@{a.version}"
    b_label = b_ref or f"{b.name}@{b.version}"
    a_msgs, b_msgs = _as_messages(a.template), _as_messages(b.template)
    messages = []
    for index in range(max(len(a_msgs), len(b_msgs))):
        role_a, text_a = _message_text(a_msgs[index] if index < len(a_msgs) else None)
        role_b, text_b = _message_text(b_msgs[index] if index < len(b_msgs) else None)
        suffix = (
            ""
            if isinstance(a.template, str) and isinstance(b.template, str)
            else (f" messages[{index}]")
        )
        text = _unified(text_a, text_b, a_label + suffix, b_label + suffix)
        if role_a != role_b and not text:
            text = (
                f"--- {a_label}{suffix}\n+++ {b_label}{suffix}\n-role: {role_a}\n+role: {role_b}\n"
            )
        messages.append(MessageDiff(index=index, role_before=role_a, role_after=role_b, diff=text))
    changes = [
        ConfigChange(key=key, before=a.config.get(key), after=b.config.get(key))
        for key in sorted(set(a.config) | set(b.config))
        if a.config.get(key) != b.config.get(key) or (key in a.config) != (key in b.config)
    ]
    return PromptDiff(
        a_ref=a_label,
        b_ref=b_label,
        a_version=a.version,
        b_version=b.version,
        messages=tuple(messages),
        config_changes=tuple(changes),
        schema_changed=a.variables_schema != b.variables_schema,
        schema_before=a.variables_schema,
        schema_after=b.variables_schema,
        syntax_changed=a.syntax != b.syntax,
        type_changed=a.type != b.type,
    )
