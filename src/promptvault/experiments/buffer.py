"""The library's in-process event buffer: exposures recorded by ``vault.get(unit_id=...)``.

Writing one row per ``get`` would put a database transaction on the application's hot
path; instead events are queued here (a list append) and written as one batch when
``size`` events are waiting, every ``interval`` seconds from a daemon thread, on
:meth:`EventBuffer.flush` and on close. A failed write puts the events back (up to
``limit`` waiting events; past that the oldest are dropped and counted in ``dropped``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from promptvault.experiments.models import Event

__all__ = ["EventBuffer", "Pending"]

log = logging.getLogger("promptvault.experiments")

Pending = tuple[str, str, str | None, str | None, str | None, float | None, datetime | None]
"""``(type, experiment, unit_id, variant, metric, value, at)``: cheaper to queue than Events."""


def to_event(item: Pending) -> Event:
    """The :class:`Event` for one queued tuple."""
    kind, experiment, unit_id, variant, metric, value, at = item
    return Event(
        type=kind,
        experiment=experiment,
        unit_id=unit_id,
        variant=variant,
        metric=metric,
        value=value,
        at=at,
    )


class EventBuffer:
    """Queue events and hand them to ``sink`` in batches (thread-safe)."""

    def __init__(
        self,
        sink: Callable[[list[Event]], Any],
        *,
        size: int = 1000,
        interval: float = 1.0,
        limit: int = 100_000,
    ) -> None:
        self._sink = sink
        self.size = size
        self.interval = interval
        self.limit = limit
        self.dropped = 0
        self._items: list[Pending] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: Pending) -> None:
        """Queue one event; flush at once when the batch is full."""
        with self._lock:
            self._items.append(item)
            full = len(self._items) >= self.size
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="promptvault-events", daemon=True
                )
                self._thread.start()
        if full:
            self.flush()

    def flush(self) -> int:
        """Write everything queued so far; returns how many events were handed over."""
        with self._flush_lock:
            with self._lock:
                items, self._items = self._items, []
            if not items:
                return 0
            try:
                self._sink([to_event(i) for i in items])
            except Exception:
                with self._lock:
                    merged = items + self._items
                    over = max(0, len(merged) - self.limit)
                    self.dropped += over
                    self._items = merged[over:]
                raise
            return len(items)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # kept for the next round; a background thread must not die
                log.exception("writing experiment events failed; will retry")

    def close(self) -> None:
        """Stop the background thread and write what is left.

        A write that fails now cannot be retried later: the events are logged as lost and
        counted in ``dropped``, and closing goes on (the caller still releases its
        connections).
        """
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)
        try:
            self.flush()
        except Exception:
            with self._lock:
                lost, self._items = len(self._items), []
                self.dropped += lost
            log.exception("writing %d experiment events at close failed; they are lost", lost)
