"""The async SDK's event buffer: the rules of :mod:`promptvault.client.events` on asyncio.

Batched (``batch_size`` or every ``interval`` seconds, from a task on the client's event
loop), idempotent retries (a batch keeps its key and events), drops reported to the server
with the next batch, :meth:`AsyncEventQueue.settle` returning what was sent and lost, and
:meth:`AsyncEventQueue.aclose` sends what is left. Bounded: past ``max_buffer`` events
``add`` drops and counts -- it is called from sync code on the loop's thread, so it cannot
wait for the sender as the sync queue does; a tight recording loop awaits
:meth:`AsyncEventQueue.room` (``await pv.experiments.events.room()``) first. Use it from the
loop that owns the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from promptvault.client._event_buffer import EventBuffer, FlushResult, SendFailed, log, send_batch

__all__ = ["AsyncEventQueue"]


class AsyncEventQueue(EventBuffer):
    """Buffer events and send them in batches through ``await send(key, events)``."""

    def __init__(
        self,
        send: Callable[..., Awaitable[Any]],
        *,
        batch_size: int = 500,
        interval: float = 1.0,
        max_buffer: int = 10_000,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(send, batch_size, interval, max_buffer, timeout, clock)
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def after_fork(self) -> None:
        """In a forked child: the parent sends what it had queued; the child starts empty,
        and its sender task starts in the child's own loop with the next event."""
        self._forget_queued()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task = None

    def add(self, event: dict[str, Any]) -> bool:
        """Queue one event; False (and counted in ``dropped``) when the buffer is full."""
        if self._closed or len(self) >= self.max_buffer:
            self.dropped += 1
            return False
        self._events.append(event)
        if self._task is None:
            with contextlib.suppress(RuntimeError):  # no running loop: flush() sends them
                self._task = asyncio.get_running_loop().create_task(self._run())
        if len(self._events) >= self.batch_size:
            self._wake.set()
        return True

    async def flush(self, *, retry_now: bool = True, full_only: bool = False) -> int:
        """Send everything waiting now (``full_only``: whole batches only); returns how many
        events are still waiting."""
        async with self._lock:
            for batch in self._cut(retry_now=retry_now, full_only=full_only):
                try:
                    result = await send_batch(self._send, batch)
                except SendFailed as exc:
                    if self._failed(batch, exc):
                        self._retry.append(batch)
                else:
                    self._sent(batch, result)
        return len(self)

    async def room(self, timeout: float = 5.0) -> bool:
        """Wait until the buffer has room (sending what waits); False if none came in time."""
        deadline = self._clock() + timeout
        while len(self) >= self.max_buffer and not self._closed:
            await self.flush(retry_now=False)
            if len(self) < self.max_buffer or self._clock() >= deadline:
                break
            await asyncio.sleep(0.05)
        return len(self) < self.max_buffer and not self._closed

    async def settle(self) -> FlushResult:
        """Send everything waiting now; what was sent and lost since the last settle."""
        if not self._events and not self._closed:
            self._report_drops()  # nothing else would carry them
        return self._since_settle(await self.flush())

    async def _run(self) -> None:
        while not self._closed:
            # Woken by a full buffer: whole batches only; the rest goes when the interval ends.
            full = True
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                full = False
            self._wake.clear()
            try:
                await self.flush(retry_now=False, full_only=full)
            except Exception:  # the sender must never kill the task
                log.exception("sending events failed")

    async def aclose(self) -> None:
        """Stop the background task and send what is left (within ``timeout``)."""
        if self._closed:
            return
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        deadline = self._clock() + self.timeout
        while len(self) and self._clock() < deadline:
            if await self.flush():
                await asyncio.sleep(min(0.05, max(0.0, deadline - self._clock())))
