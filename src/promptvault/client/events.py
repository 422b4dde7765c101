"""The SDK's event buffer: exposures and outcomes sent in batches, in the background.

Recording an event is a list append under a lock; it never waits for the network. A daemon
thread sends whole batches as soon as ``batch_size`` events are waiting, and whatever is
waiting every ``interval`` seconds, to ``POST /v1/events``. Rules:

* **Bounded, blocking**: at most ``max_buffer`` events wait. A full buffer makes
  :meth:`EventQueue.add` wait (up to ``block_timeout`` seconds, 5 by default) for the
  sender to make room, so a batch job recording faster than the server ingests slows down
  to its pace instead of losing events. Only an event that still finds no room in time
  (the server down for longer than that) is dropped: ``add`` returns False and it is
  counted in :attr:`EventQueue.dropped`, which the next batch reports to the server
  (``promptvault_sdk_events_dropped_total`` in its ``/metrics``).
* **Idempotent retries**: each batch gets its key (a random UUID) when it is cut. A batch
  that fails on the network or with a 5xx/429 is retried later *with the same key and the
  same events*, so the server counts it once even when the first attempt did arrive. A
  batch the server refuses (4xx) is dropped and counted in :attr:`EventQueue.failed`.
* **Accounted**: :meth:`EventQueue.settle` (the clients' ``flush()``) sends what waits and
  returns a :class:`FlushResult`: events sent and lost since the last one, and any still
  waiting for a retry.
* **Flushed on exit**: :meth:`EventQueue.close` (called by the client's ``close()``) and an
  ``atexit`` hook send what is left, within ``timeout`` seconds.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["Batch", "EventQueue", "FlushResult", "SendFailed"]

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
    """``send(key, events)``, with ``dropped=`` when the batch reports drops."""
    if batch.dropped:
        return send(batch.key, batch.events, dropped=batch.dropped)
    return send(batch.key, batch.events)


def _flush_at_exit(ref: weakref.ReferenceType[EventQueue]) -> None:
    queue = ref()
    if queue is not None:
        queue.close()


class EventQueue:
    """Buffer events and send them in batches through ``send(key, events)``."""

    def __init__(
        self,
        send: Callable[..., Any],
        *,
        batch_size: int = 500,
        interval: float = 1.0,
        max_buffer: int = 10_000,
        timeout: float = 5.0,
        block_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if batch_size < 1 or max_buffer < 1 or interval <= 0 or block_timeout < 0:
            raise ValueError(
                "batch_size and max_buffer must be >= 1, interval > 0, block_timeout >= 0"
            )
        self._send = send
        self.block_timeout = block_timeout
        self._reported = 0  # drops already reported to the server in a batch
        self._in_flight = 0  # events of batches being sent: they still hold their room
        self._settled = (0, 0)  # (sent, lost) at the previous settle()
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
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._closed = False
        self._thread: threading.Thread | None = None
        atexit.register(_flush_at_exit, weakref.ref(self))

    def after_fork(self) -> None:
        """In a forked child: the parent sends what it had queued, so the child starts
        empty, with new locks and no sender thread (started again by the next event)."""
        self._events = []
        self._retry = []
        self._in_flight = 0
        self._reported = self.dropped
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._thread = None

    def __len__(self) -> int:
        """Events waiting, including those of batches waiting for a retry."""
        return len(self._events) + sum(len(b.events) for b in self._retry)

    def add(self, event: dict[str, Any]) -> bool:
        """Queue one event, waiting up to ``block_timeout`` for room in a full buffer.

        False (and counted in ``dropped``) when no room came in time or the queue is closed.
        """
        with self._cond:
            if not self._closed and self._held() >= self.max_buffer:
                self._wait_for_room()
            if self._closed or self._held() >= self.max_buffer:
                self.dropped += 1
                return False
            self._events.append(event)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="promptvault-events", daemon=True
                )
                self._thread.start()
            if len(self._events) >= self.batch_size:
                self._cond.notify()
        return True

    def _held(self) -> int:
        """Events in memory: waiting, waiting for a retry, or being sent."""
        return len(self) + self._in_flight

    def _wait_for_room(self) -> None:
        """Wait (holding the condition) until the sender makes room, or time runs out."""
        deadline = time.monotonic() + self.block_timeout
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="promptvault-events", daemon=True
            )
            self._thread.start()
        while not self._closed and self._held() >= self.max_buffer:
            self._cond.notify_all()  # the sender: the buffer is full, send now
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._cond.wait(remaining)

    def _cut(self, *, full_only: bool = False) -> list[Batch]:
        """Batches due now: retries whose pause is over, then fresh ones (under the lock).

        ``full_only`` cuts only whole batches and leaves the rest for the next interval."""
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

    def _deliver(self, batches: list[Batch]) -> None:
        for batch in batches:
            try:
                self._deliver_one(batch)
            finally:
                with self._cond:  # room was made: wake producers waiting in add()
                    self._in_flight -= len(batch.events)
                    self._cond.notify_all()

    def _deliver_one(self, batch: Batch) -> None:
        try:
            batch.results.append(send_batch(self._send, batch))
        except SendFailed as exc:
            batch.attempts += 1
            if exc.retry:
                pause = min(30.0, 0.5 * 2 ** min(batch.attempts, 6))
                batch.not_before = self._clock() + pause
                with self._cond:
                    self._retry.append(batch)
            else:
                self.failed += len(batch.events)
                log.warning("promptvault refused %d events: %s", len(batch.events), exc)
        else:
            self.sent += len(batch.events)

    def flush(self, *, retry_now: bool = True, full_only: bool = False) -> int:
        """Send everything waiting now (failed batches too, keeping their keys).

        ``full_only`` sends only whole batches (the background thread, woken by a full
        buffer). Returns the number of events still waiting afterwards (0 when all went out).
        """
        with self._send_lock:
            with self._cond:
                if retry_now:
                    for batch in self._retry:
                        batch.not_before = 0.0
                batches = self._cut(full_only=full_only)
                self._in_flight += sum(len(b.events) for b in batches)
            self._deliver(batches)
        return len(self)

    def settle(self) -> FlushResult:
        """Send everything waiting now; what was sent and lost since the last settle."""
        with self._cond:
            if self.dropped > self._reported and not self._events and not self._closed:
                # Nothing to carry the drops: an empty batch reports them.
                self._retry.append(Batch(str(uuid.uuid4()), [], dropped=self._unreported()))
        waiting = self.flush()
        with self._cond:
            sent, lost = self.sent, self.dropped + self.failed
            before_sent, before_lost = self._settled
            self._settled = (sent, lost)
        return FlushResult(sent - before_sent, lost - before_lost, waiting)

    def _run(self) -> None:
        while True:
            with self._cond:
                # A full buffer sends whole batches at once; what is left over goes when the
                # interval passes, so a batch is cut by size or by time, never by scheduling.
                full = len(self._events) >= self.batch_size
                if not self._closed and not full:
                    full = self._cond.wait(self.interval)
                if self._closed:
                    return
                # A producer waits for room: send what is there, whole batch or not.
                if self._held() >= self.max_buffer:
                    full = False
            try:
                self.flush(retry_now=False, full_only=full)
            except Exception:  # the sender must never kill the thread
                log.exception("sending events failed")

    def close(self) -> None:
        """Send what is left (within ``timeout``), then stop the background thread."""
        deadline = self._clock() + self.timeout
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.timeout)
        with self._cond:
            if self.dropped > self._reported:  # report the last drops, if the server listens
                self._retry.append(Batch(str(uuid.uuid4()), [], dropped=self._unreported()))
        self.flush()
        while len(self) and self._clock() < deadline:
            if self.flush() and self._clock() < deadline:
                time.sleep(min(0.05, max(0.0, deadline - self._clock())))
