"""Change events as readers see them: ``vault.events.changes(after=..., prefix=...)``.

Events are written by the outbox (:mod:`promptvault.storage.change_events`) in the same
transaction as each change; this module only reads them, in id order, from any process.
"""

from __future__ import annotations

from promptvault.entities import MAX_INT, ChangeEvent, ChangePage
from promptvault.errors import InvalidInputError
from promptvault.storage import change_events
from promptvault.storage.database import Database
from promptvault.storage.listen import ChangeListener

__all__ = ["EVENT_TYPES", "MAX_PAGE", "ChangeFeed", "ChangeListener", "check_cursor"]

EVENT_TYPES = change_events.EVENT_TYPES
MAX_PAGE = 1000


def check_cursor(after: int, limit: int, prefix: str | None) -> None:
    """Refuse a cursor, page size or prefix no reader could mean."""
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_INT:
        raise InvalidInputError(
            f"after must be an event id >= 0 (got {after!r})", details={"field": "after"}
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(
            f"limit must be between 1 and {MAX_PAGE} (got {limit!r})", details={"field": "limit"}
        )
    if prefix is not None and (
        not isinstance(prefix, str) or len(prefix) > 200 or "\x00" in prefix
    ):
        raise InvalidInputError(
            "prefix must be a prompt-name prefix of at most 200 characters, without NUL",
            details={"field": "prefix"},
        )


class ChangeFeed:
    """Read the change events of one database, oldest first."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def changes(
        self, *, after: int = 0, limit: int = 100, prefix: str | None = None
    ) -> list[ChangeEvent]:
        """Events with an id above ``after`` (at most ``limit``); with ``prefix``, only those
        of prompts whose name starts with it. Page on with ``after=events[-1].id``."""
        check_cursor(after, limit, prefix)
        with self.db.read_work() as work:
            return work.changes.changes(after=after, limit=limit, prefix=prefix)

    def page(self, *, after: int = 0, limit: int = 100, prefix: str | None = None) -> ChangePage:
        """Like :meth:`changes`, with the cursor to go on from (it moves past events the
        prefix filtered out) and the newest id in the database."""
        check_cursor(after, limit, prefix)
        with self.db.read_work() as work:
            return work.changes.page(after=after, limit=limit, prefix=prefix)

    def listener(self) -> ChangeListener | None:
        """A wake-up for readers on PostgreSQL (``LISTEN``); None on SQLite, whose readers
        poll :meth:`last_id` (a cheap indexed read)."""
        return ChangeListener(self.db) if self.db.is_postgres else None

    def last_id(self) -> int:
        """The newest event's id (0 before the first change)."""
        with self.db.read_work() as work:
            return work.changes.last_id()
