"""``client.events`` of the SDK: the server's change events, read in id order.

This is the hand-written source; ``_changes_sync.py`` is generated from it by
``scripts/unasync.py`` (CI runs it with ``--check``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from promptvault.client import _api
from promptvault.client._api import Call
from promptvault.entities import ChangeEvent
from promptvault.entities import ChangePage as Page

__all__ = ["AsyncClientChanges"]

PAGE = 1000


class AsyncClientChanges:
    """``client.events``: the same reads as ``vault.events``."""

    def __init__(self, call: Callable[[Call[Any]], Awaitable[Any]]) -> None:
        self._call = call

    async def page(self, *, after: int = 0, limit: int = 100, prefix: str | None = None) -> Page:
        """One page of events after ``after``; go on with ``after=page.cursor``."""
        call = _api.change_events(after=after, limit=limit, prefix=prefix)
        result: Page = await self._call(call)
        return result

    async def changes(
        self, *, after: int = 0, limit: int = 100, prefix: str | None = None
    ) -> list[ChangeEvent]:
        """Up to ``limit`` events after ``after``, oldest first (several pages if need be)."""
        items: list[ChangeEvent] = []
        while len(items) < limit:
            found = await self.page(after=after, limit=min(PAGE, limit - len(items)), prefix=prefix)
            items.extend(found.items)
            if found.cursor >= found.last_id or not found.items:
                break
            after = found.cursor
        return items

    async def last_id(self) -> int:
        """The newest event's id on the server (0 before the first change)."""
        found = await self.page(after=0, limit=1)
        return found.last_id
