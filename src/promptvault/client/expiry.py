"""One daemon thread per process that runs small callbacks at ``time.monotonic`` deadlines.

The SDK's warm render path reads no clock: a fresh entry's renderer sits in a plain dict
(``ClientCore.live``) and this timer takes it out when the entry's TTL ends. The callbacks
only drop dict items, which is always safe: a dropped renderer sends the next call down the
path that compares times.

After ``os.fork`` the child has no timer thread, so every pending callback runs at once in
the child (everything timed is dropped) and the thread starts again with the next deadline.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["TIMER", "Timer"]


class Timer:
    """A heap of (deadline, callback) served by one lazily started daemon thread."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[..., object], tuple[Any, ...]]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def call_at(self, deadline: float, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` on the timer thread once ``time.monotonic()`` reaches ``deadline``."""
        with self._cond:
            heapq.heappush(self._heap, (deadline, next(self._order), fn, args))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="promptvault-expiry", daemon=True
                )
                self._thread.start()
            elif self._heap[0][0] == deadline:
                self._cond.notify()  # a new earliest deadline: wake up sooner

    def pending(self) -> int:
        """How many callbacks wait for their deadline."""
        return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    delay = self._heap[0][0] - time.monotonic()
                    if delay <= 0:
                        _, _, fn, args = heapq.heappop(self._heap)
                        break
                    self._cond.wait(delay)
            with contextlib.suppress(Exception):  # one failing callback must not stop the rest
                fn(*args)

    def after_fork(self) -> None:
        """In a forked child: run what was pending (its thread did not survive the fork)."""
        pending, self._heap = self._heap, []
        self._cond = threading.Condition()  # the parent's may have been held at fork time
        self._thread = None
        for _, _, fn, args in pending:
            with contextlib.suppress(Exception):
                fn(*args)


TIMER = Timer()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=TIMER.after_fork)
