"""The bookkeeping of the SDK's event buffer, without I/O: both event queues are built on it.

What waits, how it is cut into batches, what a send's outcome does to the counters and to
the retries, and what a flush reports. :class:`~promptvault.client.events.EventQueue`
(a sender thread; a full buffer makes producers wait) and
:class:`~promptvault.client.events_async.AsyncEventQueue` (a sender task; a full buffer
drops) add only their locking, waiting and sending; the rules are in
:mod:`promptvault.client.events`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["Batch", "EventBuffer", "FlushResult", "SendFailed", "send_batch"]

log = logging.getLogger("promptvault.client")


class SendFailed(Exception):
    """Raised by the send function: ``retry`` says whether the same batch may be sent again."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.retry = retry


class FlushResult(NamedTuple):
    """What a client's ``flush()`` saw since the previous one.

    ``sent``: events the server took (in the background or by this flush); ``lost``: events
    dropped (no room in time, or recorded after close) or refused by the server (4xx);
    ``waiting``: events still queued, in batches waiting to be retried.
    """

    sent: int
    lost: int
    waiting: int


@dataclass
class Batch:
    """A cut batch: its idempotency key, its events and how often sending it failed.

    ``dropped`` is how many events the client had dropped, not yet reported, when the batch
    was cut: the server adds them to its metrics (a retry carries the same number, and the
    key makes the server count it once)."""

    key: str
    events: list[dict[str, Any]]
    attempts: int = 0
    not_before: float = 0.0
    results: list[Any] = field(default_factory=list)
    dropped: int = 0


def send_batch(send: Callable[..., Any], batch: Batch) -> Any:
    """``send(key, events)``, with ``dropped=`` when the batch reports drops (an awaitable
    when ``send`` is a coroutine function)."""
    if batch.dropped:
        return send(batch.key, batch.events, dropped=batch.dropped)
    return send(batch.key, batch.events)


class EventBuffer:
    """Events waiting to be sent, batches waiting for a retry, and the counts of what became
    of them. Not thread-safe by itself: the sync queue calls it under its condition."""

    def __init__(  # noqa: PLR0917 (both queues pass their settings in this order)
        self,
        send: Callable[..., Any],
        batch_size: int,
        interval: float,
        max_buffer: int,
        timeout: float,
        clock: Callable[[], float],
        block_timeout: float | None = None,
    ) -> None:
        """``block_timeout`` is only checked here (the sync queue waits that long)."""
        if batch_size < 1 or max_buffer < 1 or interval <= 0 or (block_timeout or 0) < 0:
            limits = "batch_size and max_buffer must be >= 1, interval > 0"
            raise ValueError(limits if block_timeout is None else f"{limits}, block_timeout >= 0")
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
        self._reported = 0  # drops already reported to the server in a batch
        self._settled = (0, 0)  # (sent, lost) at the previous settle()
        self._closed = False

    def __len__(self) -> int:
        """Events waiting, including those of batches waiting for a retry."""
        return len(self._events) + sum(len(b.events) for b in self._retry)

    def _forget_queued(self) -> None:
        # In a forked child: the parent sends what it had queued.
        self._events = []
        self._retry = []
        self._reported = self.dropped

    def _cut(self, *, retry_now: bool, full_only: bool) -> list[Batch]:
        """Batches due now: retries (all with ``retry_now``, else those whose pause is over),
        then fresh ones; ``full_only`` cuts only whole batches and leaves the rest waiting."""
        if retry_now:
            due, self._retry = self._retry, []
        else:
            now = self._clock()
            due = [b for b in self._retry if b.not_before <= now]
            self._retry = [b for b in self._retry if b.not_before > now]
        least = self.batch_size if full_only else 1
        while len(self._events) >= least:
            chunk, self._events = self._events[: self.batch_size], self._events[self.batch_size :]
            due.append(Batch(str(uuid.uuid4()), chunk, dropped=self._unreported()))
        return due

    def _unreported(self) -> int:
        n, self._reported = self.dropped - self._reported, self.dropped
        return n

    def _report_drops(self) -> None:
        """Queue an empty batch carrying the drops not yet reported, if any."""
        if self.dropped > self._reported:
            self._retry.append(Batch(str(uuid.uuid4()), [], dropped=self._unreported()))

    def _sent(self, batch: Batch, result: Any) -> None:
        batch.results.append(result)
        self.sent += len(batch.events)

    def _failed(self, batch: Batch, exc: SendFailed) -> bool:
        """Count a failed send; True when the batch is to be retried (its pause is set)."""
        batch.attempts += 1
        if exc.retry:
            batch.not_before = self._clock() + min(30.0, 0.5 * 2 ** min(batch.attempts, 6))
            return True
        self.failed += len(batch.events)
        log.warning("promptvault refused %d events: %s", len(batch.events), exc)
        return False

    def _since_settle(self, waiting: int) -> FlushResult:
        """Sent and lost since the previous settle, and ``waiting``; this one is the next's
        starting point."""
        sent, lost = self.sent, self.dropped + self.failed
        before_sent, before_lost = self._settled
        self._settled = (sent, lost)
        return FlushResult(sent - before_sent, lost - before_lost, waiting)
