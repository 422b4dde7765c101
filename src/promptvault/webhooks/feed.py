"""Where the dispatcher reads change events from: any :class:`ChangeFeed`.

A feed hands out events in increasing ``id`` order, each written in the same transaction
as the change it describes, so what the dispatcher reads is exactly what committed.
:class:`AuditFeed` derives them from the audit log, whose ``seq`` grows by one per
committed entry in commit order (appends are serialised under the write lock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from promptvault.entities import AuditEntry
from promptvault.storage import audit as audit_store
from promptvault.storage.database import Database

__all__ = ["AuditFeed", "ChangeEvent", "ChangeFeed", "FeedPage", "event_matches"]


@dataclass(frozen=True)
class ChangeEvent:
    """One change: its id in the feed, type, time, who made it, the prompt (if any), data."""

    id: int
    type: str
    at: datetime
    actor: str
    prompt: str | None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedPage:
    """Events after a cursor, and the cursor to read on from (past what was scanned, even
    when nothing in it was an event)."""

    events: list[ChangeEvent]
    last: int


class ChangeFeed(Protocol):
    """What the dispatcher needs of an event source."""

    def read(self, after: int, limit: int) -> FeedPage:
        """Up to ``limit`` events with an id above ``after``, oldest first."""
        ...

    def last_id(self) -> int:
        """The id of the newest event (0 when there is none): where a new
        subscription starts."""
        ...

    def get(self, event_id: int) -> ChangeEvent | None:
        """One event by id (for a manual redelivery)."""
        ...


def event_matches(event: ChangeEvent, types: list[str], prompt_prefix: str | None) -> bool:
    """Whether a subscription with these filters wants ``event``.

    ``types`` empty means all; ``label.*`` matches every type starting with ``label.``.
    A prompt prefix keeps only events about a prompt whose name starts with it.
    """
    if types and not any(
        event.type == t or (t.endswith(".*") and event.type.startswith(t[:-1])) for t in types
    ):
        return False
    if prompt_prefix:
        return event.prompt is not None and event.prompt.startswith(prompt_prefix)
    return True


# Audit actions that are change events, and the event type each becomes.
_AUDIT_TYPES = {
    "prompt.push": "version.pushed",
    "label.set": "label.moved",
    "label.rollback": "label.moved",
    "label.delete": "label.removed",
    "prompt.archive": "prompt.archived",
    "prompt.unarchive": "prompt.unarchived",
    "experiment.start": "experiment.started",
    "experiment.ramp": "experiment.ramped",
    "experiment.stop": "experiment.stopped",
    "experiment.auto_stop": "experiment.auto_stopped",
    "experiment.conclude": "experiment.concluded",
    "collection.create": "collection.changed",
    "collection.delete": "collection.changed",
    "example.import": "collection.changed",
}


def _from_audit(entry: AuditEntry) -> ChangeEvent | None:
    seq, at, actor, action = entry.seq, entry.at, entry.actor, entry.action
    target, details = entry.target, entry.details
    kind = _AUDIT_TYPES.get(action)
    if kind is None:
        return None
    noun, _, name = target.partition(":")
    data: dict[str, Any] = dict(details or {})
    prompt = name if noun == "prompt" else data.get("prompt")
    if noun == "prompt":
        data["prompt"] = name
    elif noun == "experiment":
        data["experiment"] = name
    elif noun == "collection":
        data["collection"] = name
    if kind == "label.moved":
        data["old_version"] = data.pop("from_version", None)
        data["new_version"] = data.pop("to_version", None)
        data["rollback"] = action == "label.rollback"
    elif kind == "label.removed":
        data["old_version"] = data.pop("from_version", None)
        data.pop("to_version", None)
    return ChangeEvent(
        id=seq,
        type=kind,
        at=at,
        actor=actor,
        prompt=prompt if isinstance(prompt, str) else None,
        data=data,
    )


class AuditFeed:
    """Change events read from the audit log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def read(self, after: int, limit: int) -> FeedPage:
        with self.db.read() as session:
            entries = audit_store.entries(session, after_seq=after, limit=limit)
        events = []
        for e in entries:
            event = _from_audit(e)
            if event is not None:
                events.append(event)
        return FeedPage(events, entries[-1].seq if entries else after)

    def last_id(self) -> int:
        with self.db.read() as session:
            found = audit_store.head(session)
        return found[0] if found else 0

    def get(self, event_id: int) -> ChangeEvent | None:
        with self.db.read() as session:
            entries = audit_store.entries(session, after_seq=event_id - 1, limit=1)
        if not entries or entries[0].seq != event_id:
            return None
        e = entries[0]
        return _from_audit(e)
