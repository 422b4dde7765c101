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
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from promptvault.client._event_buffer import (
    Batch,
    EventBuffer,
    FlushResult,
    SendFailed,
    log,
    send_batch,
)

__all__ = ["Batch", "EventQueue", "FlushResult", "SendFailed"]


def _flush_at_exit(ref: weakref.ReferenceType[EventQueue]) -> None:
    queue = ref()
    if queue is not None:
        queue.close()


class EventQueue(EventBuffer):
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
        super().__init__(send, batch_size, interval, max_buffer, timeout, clock, block_timeout)
        self.block_timeout = block_timeout
        self._in_flight = 0  # events of batches being sent: they still hold their room
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        atexit.register(_flush_at_exit, weakref.ref(self))

    def after_fork(self) -> None:
        """In a forked child: the parent sends what it had queued, so the child starts
        empty, with new locks and no sender thread (started again by the next event)."""
        self._forget_queued()
        self._in_flight = 0
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._thread = None

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
                self._start_sender()
            if len(self._events) >= self.batch_size:
                self._cond.notify()
        return True

    def _start_sender(self) -> None:
        self._thread = threading.Thread(target=self._run, name="promptvault-events", daemon=True)
        self._thread.start()

    def _held(self) -> int:
        """Events in memory: waiting, waiting for a retry, or being sent."""
        return len(self) + self._in_flight

    def _wait_for_room(self) -> None:
        """Wait (holding the condition) until the sender makes room, or time runs out."""
        deadline = time.monotonic() + self.block_timeout
        if self._thread is None:
            self._start_sender()
        while not self._closed and self._held() >= self.max_buffer:
            self._cond.notify_all()  # the sender: the buffer is full, send now
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._cond.wait(remaining)

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
            result = send_batch(self._send, batch)
        except SendFailed as exc:
            if self._failed(batch, exc):
                with self._cond:
                    self._retry.append(batch)
        else:
            self._sent(batch, result)

    def flush(self, *, retry_now: bool = True, full_only: bool = False) -> int:
        """Send everything waiting now (failed batches too, keeping their keys).

        ``full_only`` sends only whole batches (the background thread, woken by a full
        buffer). Returns the number of events still waiting afterwards (0 when all went out).
        """
        with self._send_lock:
            with self._cond:
                batches = self._cut(retry_now=retry_now, full_only=full_only)
                self._in_flight += sum(len(b.events) for b in batches)
            self._deliver(batches)
        return len(self)

    def settle(self) -> FlushResult:
        """Send everything waiting now; what was sent and lost since the last settle."""
        with self._cond:
            if not self._events and not self._closed:
                self._report_drops()  # nothing else would carry them
        waiting = self.flush()
        with self._cond:
            return self._since_settle(waiting)

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
            self._report_drops()  # the last drops, if the server listens
        self.flush()
        while len(self) and self._clock() < deadline:
            if self.flush() and self._clock() < deadline:
                time.sleep(min(0.05, max(0.0, deadline - self._clock())))
