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
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from promptvault.client.events import Batch, FlushResult, SendFailed

__all__ = ["AsyncEventQueue"]

log = logging.getLogger("promptvault.client")


class AsyncEventQueue:
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
        if batch_size < 1 or max_buffer < 1 or interval <= 0:
            raise ValueError("batch_size and max_buffer must be >= 1, interval > 0")
        self._send = send
        self.batch_size = batch_size
        self.interval = interval
        self.max_buffer = max_buffer
        self.timeout = timeout
        self._clock = clock
        self.dropped = 0
        self.failed = 0
        self.sent = 0
        self._events: list[dict[str, Any]] = []
        self._retry: list[Batch] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._reported = 0
        self._settled = (0, 0)

    def after_fork(self) -> None:
        """In a forked child: the parent sends what it had queued; the child starts empty,
        and its sender task starts in the child's own loop with the next event."""
        self._events = []
        self._retry = []
        self._reported = self.dropped
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task = None

    def __len__(self) -> int:
        """Events waiting, including those of batches waiting for a retry."""
        return len(self._events) + sum(len(b.events) for b in self._retry)

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
            now = self._clock()
            if retry_now:
                due, self._retry = self._retry, []
            else:
                due = [b for b in self._retry if b.not_before <= now]
                self._retry = [b for b in self._retry if b.not_before > now]
            least = self.batch_size if full_only else 1
            while len(self._events) >= least:
                chunk = self._events[: self.batch_size]
                self._events = self._events[self.batch_size :]
                due.append(Batch(str(uuid.uuid4()), chunk, dropped=self._unreported()))
            for batch in due:
                try:
                    if batch.dropped:
                        sent = await self._send(batch.key, batch.events, dropped=batch.dropped)
                    else:
                        sent = await self._send(batch.key, batch.events)
                    batch.results.append(sent)
                except SendFailed as exc:
                    batch.attempts += 1
                    if exc.retry:
                        pause = min(30.0, 0.5 * 2 ** min(batch.attempts, 6))
                        batch.not_before = self._clock() + pause
                        self._retry.append(batch)
                    else:
                        self.failed += len(batch.events)
                        log.warning("promptvault refused %d events: %s", len(batch.events), exc)
                else:
                    self.sent += len(batch.events)
        return len(self)

    def _unreported(self) -> int:
        n, self._reported = self.dropped - self._reported, self.dropped
        return n

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
        if self.dropped > self._reported and not self._events and not self._closed:
            self._retry.append(Batch(str(uuid.uuid4()), [], dropped=self._unreported()))
        waiting = await self.flush()
        sent, lost = self.sent, self.dropped + self.failed
        before_sent, before_lost = self._settled
        self._settled = (sent, lost)
        return FlushResult(sent - before_sent, lost - before_lost, waiting)

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
