"""The bodies a subscription receives: ``standard`` JSON or a ``slack`` message.

Standard Webhooks payloads are ``{"type", "timestamp", "data"}``; ``data`` carries the
event's id in the feed, who acted, the prompt and the event's own fields. The Slack format
is what a Slack incoming webhook expects (``text`` for notifications, ``blocks`` for the
message), written for people: "support: production moved v6 -> v7 by alice".
"""

from __future__ import annotations

import json
from typing import Any

from promptvault.webhooks.feed import ChangeEvent

__all__ = ["SLACK_DEFAULT_TYPES", "body", "slack_message", "standard_payload"]

# A Slack subscription that names no event types gets the decisions people act on.
SLACK_DEFAULT_TYPES = ["label.moved", "label.removed", "experiment.*"]


def _iso(event: ChangeEvent) -> str:
    return event.at.isoformat().replace("+00:00", "Z")


def standard_payload(event: ChangeEvent) -> dict[str, Any]:
    """The Standard Webhooks JSON payload of one event."""
    data = {"id": event.id, "actor": event.actor, "prompt": event.prompt, **event.payload}
    return {"type": event.type, "timestamp": _iso(event), "data": data}


def _esc(value: Any) -> str:
    # Slack mrkdwn treats &, < and > as markup: escape them in anything a user named.
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _v(value: Any) -> str:
    return f"v{value}" if value is not None else "nothing"


def _headline(event: ChangeEvent) -> str:
    d = event.payload
    prompt = _esc(event.prompt or d.get("prompt") or "?")
    label = _esc(d.get("label", "?"))
    exp = _esc(d.get("experiment", "?"))
    by = _esc(event.actor)
    kind = event.type
    if kind == "label.moved":
        verb = "rolled back" if d.get("rollback") else "moved"
        return (
            f"*{prompt}*: `{label}` {verb} {_v(d.get('old_version'))} -> "
            f"{_v(d.get('new_version'))} by {by}"
        )
    if kind == "label.removed":
        return f"*{prompt}*: `{label}` removed (was {_v(d.get('old_version'))}) by {by}"
    if kind == "experiment.concluded":
        return (
            f"Experiment *{exp}* concluded: winner `{_esc(d.get('winner', '?'))}`, "
            f"`{label}` now serves {_v(d.get('version'))} (by {by})"
        )
    if kind == "experiment.auto_stopped":
        reasons = d.get("reason") or d.get("reasons") or ""
        if isinstance(reasons, list):
            reasons = ", ".join(str(r) for r in reasons)
        why = f": {_esc(reasons)}" if reasons else ""
        return f"Experiment *{exp}* stopped automatically{why}"
    if kind == "experiment.stopped":
        why = f": {_esc(d['reason'])}" if d.get("reason") else ""
        return f"Experiment *{exp}* stopped by {by}{why}"
    if kind == "experiment.started":
        return f"Experiment *{exp}* started on `{label}` by {by}"
    if kind == "experiment.ramped":
        return f"Experiment *{exp}* traffic changed by {by}"
    if kind == "version.pushed":
        return f"*{prompt}*: {_v(d.get('version'))} pushed by {by}"
    if kind.startswith("prompt."):
        return f"*{prompt}*: {_esc(kind.split('.', 1)[1])} by {by}"
    return f"{_esc(kind)} by {by}"


def slack_message(event: ChangeEvent) -> dict[str, Any]:
    """A Slack message (``text`` + ``blocks``) for one event."""
    line = _headline(event)
    context = f"{_esc(event.type)} · event {event.id} · {_iso(event)}"
    return {
        "text": line,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": line}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }


def body(event: ChangeEvent, fmt: str) -> bytes:
    """The request body for a subscription of format ``fmt``."""
    payload = slack_message(event) if fmt == "slack" else standard_payload(event)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str).encode()
