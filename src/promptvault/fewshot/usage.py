"""Usage counts of examples, counted in memory and written in batches.

Every build that uses examples would otherwise write to the database. A
:class:`UsageCounter` adds the used ids to an in-memory tally and hands the tally to its
``flush`` function (one transaction, one executemany) every ``every`` builds or
``seconds`` seconds, whichever comes first, and when the owner closes. A failed flush keeps
the tally for the next one, so counts are delayed, never lost while the process lives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping

__all__ = ["UsageCounter"]


class UsageCounter:
    """In-memory usage tally flushed in batches."""

    def __init__(
        self,
        flush: Callable[[Mapping[int, int]], None],
        *,
        every: int = 1000,
        seconds: float = 5.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._flush = flush
        self.every = max(1, int(every))
        self.seconds = float(seconds)
        self._clock = clock or time.monotonic
        self._counts: dict[int, int] = {}
        self._builds = 0
        self._deadline = self._clock() + self.seconds
        self._lock = threading.Lock()
        self.flushes = 0
        self.failures = 0

    def record(self, ids: Iterable[int]) -> None:
        """Count one use of each id; flush when ``every`` builds or ``seconds`` have passed."""
        with self._lock:
            counts = self._counts
            for i in ids:
                counts[i] = counts.get(i, 0) + 1
            self._builds += 1
            due = self._builds >= self.every or self._clock() >= self._deadline
        if due:
            try:
                self.flush()
            except Exception:
                self.failures += 1

    def pending(self) -> dict[int, int]:
        """A copy of the counts not yet written."""
        with self._lock:
            return dict(self._counts)

    def flush(self) -> int:
        """Write the tally now; returns how many examples' counts were written."""
        with self._lock:
            counts, self._counts = self._counts, {}
            self._builds = 0
            self._deadline = self._clock() + self.seconds
        if not counts:
            return 0
        try:
            self._flush(counts)
        except BaseException:
            with self._lock:  # keep them for the next flush
                for i, n in counts.items():
                    self._counts[i] = self._counts.get(i, 0) + n
            raise
        self.flushes += 1
        return len(counts)
