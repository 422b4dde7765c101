"""Where the dispatcher reads change events from: the outbox (``change_events``).

Each event is written in the same transaction as the change it describes and ids become
visible in increasing order (docs/events.md), so a subscription's cursor, the id of the
last event it is done with, never skips one. :class:`ChangeFeed` is what the dispatcher
needs of a source; :class:`OutboxFeed` is the database's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from promptvault.entities import ChangeEvent
from promptvault.storage.database import Database

__all__ = ["ChangeEvent", "ChangeFeed", "FeedPage", "OutboxFeed", "event_matches"]


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


class OutboxFeed:
    """Change events read from the outbox table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def read(self, after: int, limit: int) -> FeedPage:
        with self.db.read_work() as work:
            found = work.changes.page(after=after, limit=limit)
        return FeedPage(list(found.items), found.cursor)

    def last_id(self) -> int:
        with self.db.read_work() as work:
            return work.changes.last_id()

    def get(self, event_id: int) -> ChangeEvent | None:
        with self.db.read_work() as work:
            found = work.changes.changes(after=event_id - 1, limit=1)
        return found[0] if found and found[0].id == event_id else None
