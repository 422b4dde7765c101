"""Server-Sent Events of change events: one broadcaster per process, any number of streams.

The :class:`Broadcaster` is the only reader of the outbox in a server process. It wakes on
PostgreSQL ``NOTIFY`` (sent by each change's transaction, so it fires on commit) or, on
SQLite, polls the newest id every ``stream_poll_interval`` (0.2 s); on PostgreSQL it polls
too, every second, so a missed notification costs latency, never an event. New events are
read once, rendered once as SSE frames and kept in a ring of the newest few thousand; then
every open stream is woken and copies the frames after its own cursor. Streams never query
the database per event: only a stream resuming from further back than the ring (a client
that was away for long) reads its catch-up pages from the outbox.

Each frame is ``id: <event id>``, ``event: <type>`` and ``data: <the event as JSON>``; an
idle stream gets a comment (``: heartbeat``) every ``stream_heartbeat`` seconds so proxies
keep it open. A client resumes with ``Last-Event-ID`` (or ``?after=``) and misses nothing:
event ids are committed in order (see :mod:`promptvault.storage.change_events`).

On shutdown (``promptvault serve``'s protocol calls :func:`close_streams`) streams end at
once, so they do not hold the graceful shutdown for its whole timeout.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool

from promptvault.entities import ChangeEvent
from promptvault.vault import Vault

__all__ = ["Broadcaster", "broadcaster_for", "close_app_streams", "close_streams", "frame"]

log = logging.getLogger(__name__)

_PAGE = 1000
_RING = 4096
_SQLITE_POLL = 0.2
_POSTGRES_POLL = 1.0
OPENING = b"retry: 2000\n: connected\n\n"
HEARTBEAT = b": heartbeat\n\n"

_LIVE: weakref.WeakSet[Broadcaster] = weakref.WeakSet()


def frame(event: ChangeEvent) -> bytes:
    """One event as an SSE frame (the JSON has no newline, so one ``data:`` line)."""
    return (f"id: {event.id}\nevent: {event.type}\ndata: {event.model_dump_json()}\n\n").encode()


@dataclass(frozen=True, slots=True)
class _Entry:
    id: int
    prompt: str | None
    frame: bytes


def _matches(prompt: str | None, prefix: str | None) -> bool:
    return not prefix or (prompt is not None and prompt.startswith(prefix))


class Broadcaster:
    """Reads new change events once per process and fans them out to every open stream."""

    def __init__(
        self, vault: Vault, *, heartbeat: float, poll_interval: float | None = None
    ) -> None:
        self.vault = vault
        self.heartbeat = heartbeat
        postgres = vault.db.is_postgres
        self.poll_interval = poll_interval or (_POSTGRES_POLL if postgres else _SQLITE_POLL)
        self.last_id = 0
        # Every event with floor < id <= last_id is in the ring.
        self._floor = 0
        self._ring: deque[_Entry] = deque()
        self._waiters: set[asyncio.Event] = set()
        self._closing = asyncio.Event()
        self._listener = vault.events.listener()
        self._task: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] | None = None
        self.loop = asyncio.get_running_loop()
        _LIVE.add(self)

    @property
    def streams(self) -> int:
        """Open streams in this process."""
        return len(self._waiters)

    async def start(self) -> None:
        """Read where the outbox is and start watching it (once; later calls wait for it)."""
        if self._started is None:
            self._started = self.loop.create_future()
            try:
                self.last_id = self._floor = await run_in_threadpool(self.vault.events.last_id)
                if self._listener is not None:
                    self._listener.start()
                self._task = self.loop.create_task(self._run())
                self._started.set_result(None)
            except BaseException as exc:
                self._started.set_exception(exc)
                self._started = None
                raise
        await asyncio.shield(self._started)

    def close(self) -> None:
        """End every stream and stop watching (idempotent)."""
        self._closing.set()
        for waiter in self._waiters:
            waiter.set()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def aclose(self) -> None:
        """:meth:`close`, and close the ``LISTEN`` connection."""
        self.close()
        if self._listener is not None:
            await self._listener.close()

    async def _run(self) -> None:
        while True:
            if self._listener is not None:
                await self._listener.wait(self.poll_interval)
            else:
                await asyncio.sleep(self.poll_interval)
            try:
                await self.refresh()
            except Exception as exc:  # the database is briefly away: the next poll retries
                log.warning("change stream: could not read the outbox: %s", exc)

    async def refresh(self) -> None:
        """Read the events after ``last_id`` into the ring and wake the streams."""
        if self._listener is None:
            # SQLite: one indexed max(id) per poll, the events only when there are new ones.
            newest = await run_in_threadpool(self.vault.events.last_id)
            if newest <= self.last_id:
                return
        while True:
            page = await run_in_threadpool(
                partial(self.vault.events.page, after=self.last_id, limit=_PAGE)
            )
            if page.items:
                # Before anyone hears of them: a client that fetches after an event must
                # get the new state, not this process's cached pointer.
                self.vault.forget_changed(page.items)
            for event in page.items:
                self._ring.append(_Entry(event.id, event.prompt, frame(event)))
            while len(self._ring) > _RING:
                self._floor = self._ring.popleft().id
            moved = page.cursor > self.last_id
            self.last_id = max(self.last_id, page.cursor)
            if moved:
                for waiter in self._waiters:
                    waiter.set()
            if page.cursor >= page.last_id:
                return

    def _from_ring(self, cursor: int, prefix: str | None) -> bytes:
        newer: list[bytes] = []
        for entry in reversed(self._ring):  # the newest are at the end: walk back to cursor
            if entry.id <= cursor:
                break
            if _matches(entry.prompt, prefix):
                newer.append(entry.frame)
        newer.reverse()
        return b"".join(newer)

    async def _catch_up(self, cursor: int, prefix: str | None) -> tuple[bytes, int]:
        page = await run_in_threadpool(
            partial(self.vault.events.page, after=cursor, limit=_PAGE, prefix=prefix)
        )
        return b"".join(frame(e) for e in page.items), page.cursor

    async def stream(
        self, *, after: int | None, prefix: str | None, duration: float | None = None
    ) -> AsyncIterator[bytes]:
        """The SSE body of one stream: events after ``after`` (default: from now on)."""
        await self.start()
        if after is None:
            # "From now on" is the outbox's head as this stream opens: the watcher may not
            # have read the latest changes yet, and they happened before this stream.
            after = await run_in_threadpool(self.vault.events.last_id)
        cursor = after
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        deadline = None if duration is None else self.loop.time() + duration
        try:
            yield OPENING
            while not self._closing.is_set():
                if cursor < self.last_id:
                    if cursor >= self._floor:
                        chunk, cursor = self._from_ring(cursor, prefix), self.last_id
                    else:  # from further back than the ring holds
                        chunk, cursor = await self._catch_up(cursor, prefix)
                    if chunk:
                        yield chunk
                    continue
                waiter.clear()
                if cursor < self.last_id:
                    continue
                wait = self.heartbeat
                if deadline is not None:
                    wait = min(wait, deadline - self.loop.time())
                    if wait <= 0:
                        return
                try:
                    async with asyncio.timeout(wait):
                        await waiter.wait()
                except TimeoutError:
                    if deadline is None or self.loop.time() < deadline:
                        yield HEARTBEAT
        finally:
            self._waiters.discard(waiter)


def broadcaster_for(app: Any) -> Broadcaster:
    """The app's broadcaster in the running event loop (made on first use)."""
    current: Broadcaster | None = getattr(app.state, "changes", None)
    loop = asyncio.get_running_loop()
    if current is None or current.loop is not loop:
        # A new loop (a test client's, a restarted server's): the old one cannot serve it.
        settings = app.state.settings
        current = Broadcaster(
            app.state.vault,
            heartbeat=settings.stream_heartbeat,
            poll_interval=settings.stream_poll_interval,
        )
        app.state.changes = current
    return current


async def close_app_streams(app: Any) -> None:
    """Stop the app's broadcaster (the app's shutdown)."""
    current: Broadcaster | None = getattr(app.state, "changes", None)
    if current is not None and current.loop is asyncio.get_running_loop():
        await current.aclose()
    app.state.changes = None


def close_streams() -> None:
    """End every open stream of this process (the server is shutting down)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    for broadcaster in list(_LIVE):
        if broadcaster.loop is loop:  # another loop's streams are not this server's
            broadcaster.close()
