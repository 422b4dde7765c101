"""Wake-ups for change-event readers: PostgreSQL ``LISTEN`` on the outbox's channel.

The append of each change event sends ``NOTIFY promptvault_changes`` in its transaction
(:mod:`promptvault.storage.change_events`), so the notification arrives when the change
commits. :class:`ChangeListener` holds one autocommit psycopg connection per process and
turns notifications into an :class:`asyncio.Event`. A notification is only a hint: readers
still read the outbox, and poll it on a slower interval too, so a lost connection or a
missed notification costs latency, never an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from promptvault.storage.change_events import CHANNEL
from promptvault.storage.database import Database

__all__ = ["ChangeListener"]

log = logging.getLogger(__name__)

_RETRY_MAX = 30.0


class ChangeListener:
    """``LISTEN`` in a background task; :meth:`wait` returns when a change was notified."""

    def __init__(self, db: Database) -> None:
        url = db.engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()  # set while the LISTEN connection is up

    def start(self) -> None:
        """Start listening (in the running event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def wait(self, timeout: float) -> bool:
        """True as soon as a change is notified (or was since the last call), else False
        after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        self._event.clear()
        return True

    async def close(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        import psycopg  # the postgres extra: only a PostgreSQL-backed server gets here

        delay = 0.5
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    # Changes committed while the connection was down: readers catch up.
                    self._event.set()
                    delay = 0.5
                    async for _ in conn.notifies():
                        self._event.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: poll until it is back
                log.warning("change listener: %s; retrying in %.1fs", exc, delay)
            self.listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX)
