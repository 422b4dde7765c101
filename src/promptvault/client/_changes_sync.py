# Generated from _changes_async.py by scripts/unasync.py: do not edit, change the source and
# run `python scripts/unasync.py`.
"""``client.events`` of the SDK: the server's change events, read in id order.

Generated from ``_changes_async.py`` (the hand-written source) by
``scripts/unasync.py`` (CI runs it with ``--check``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promptvault.client import _api
from promptvault.client._api import Call
from promptvault.entities import ChangeEvent
from promptvault.entities import ChangePage as Page

__all__ = ["ClientChanges"]

PAGE = 1000


class ClientChanges:
    """``client.events``: the same reads as ``vault.events``."""

    def __init__(self, call: Callable[[Call[Any]], Any]) -> None:
        self._call = call

    def page(self, *, after: int = 0, limit: int = 100, prefix: str | None = None) -> Page:
        """One page of events after ``after``; go on with ``after=page.cursor``."""
        call = _api.change_events(after=after, limit=limit, prefix=prefix)
        result: Page = self._call(call)
        return result

    def changes(
        self, *, after: int = 0, limit: int = 100, prefix: str | None = None
    ) -> list[ChangeEvent]:
        """Up to ``limit`` events after ``after``, oldest first (several pages if need be)."""
        items: list[ChangeEvent] = []
        while len(items) < limit:
            found = self.page(after=after, limit=min(PAGE, limit - len(items)), prefix=prefix)
            items.extend(found.items)
            if found.cursor >= found.last_id or not found.items:
                break
            after = found.cursor
        return items

    def last_id(self) -> int:
        """The newest event's id on the server (0 before the first change)."""
        found = self.page(after=0, limit=1)
        return found.last_id
