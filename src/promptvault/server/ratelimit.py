"""Failed authentication is rate limited per client address and per API key id.

Each failure (an unknown, revoked or malformed key; a wrong key at the UI sign-in) takes a
token from two buckets: the client address's and, when the presented key names one, the
key id's. A bucket holds ``burst`` tokens and regains ``per_minute`` of them a minute. While
either bucket is empty, further attempts from that client (or at that key id) are refused
with ``429 rate_limited`` and ``Retry-After`` before any database lookup. Successful
authentications cost nothing, and a key that already authenticated (cached) is never
refused, so an attacker cannot lock out applications holding a good key.

Failures are audited in aggregate: one ``auth.failures`` entry per window (default a minute)
with the count, how many attempts were refused, and the busiest client addresses and key
ids, instead of one entry per failure that an attacker could use to flood the log.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from promptvault.errors import RateLimitedError

__all__ = ["AuthGuard", "FailureWindow", "TokenBucket"]

_MAX_BUCKETS = 65_536  # least recently used buckets beyond this are forgotten
_TOP = 10


@dataclass(slots=True)
class TokenBucket:
    """``tokens`` of ``capacity``, refilled at ``rate`` per second since ``stamp``."""

    capacity: float
    rate: float
    tokens: float
    stamp: float

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self, now: float) -> float:
        """Seconds until a token is available (0: one is available now)."""
        self._refill(now)
        if self.tokens >= 1:
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else math.inf

    def take(self, now: float) -> None:
        """Use one token (may go below zero under concurrent failures; refills pay it)."""
        self._refill(now)
        self.tokens -= 1

    def full(self, now: float) -> bool:
        """Whether the bucket is back at capacity (nothing to remember)."""
        self._refill(now)
        return self.tokens >= self.capacity


@dataclass(slots=True)
class FailureWindow:
    """What one audit window saw."""

    started: float
    failures: int = 0
    refused: int = 0
    by_client: Counter[str] = field(default_factory=Counter)
    by_key: Counter[str] = field(default_factory=Counter)

    def summary(self, ended: float) -> dict[str, Any]:
        """The audit entry's details."""
        return {
            "failures": self.failures,
            "refused": self.refused,
            "seconds": round(ended - self.started, 1),
            "clients": dict(self.by_client.most_common(_TOP)),
            "keys": dict(self.by_key.most_common(_TOP)),
            "distinct_clients": len(self.by_client),
        }


class AuthGuard:
    """The buckets and the audit window of one server process (thread-safe)."""

    def __init__(
        self,
        *,
        burst: int,
        per_minute: float,
        window: float,
        record: Callable[[dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.rate = per_minute / 60.0
        self.window = window
        self._record = record
        self.clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()
        self._current = FailureWindow(started=clock())

    @staticmethod
    def _names(client: str | None, key_id: str | None) -> list[str]:
        names = [f"client:{client or 'unknown'}"]
        if key_id:
            names.append(f"key:{key_id}")
        return names

    def check(self, client: str | None, key_id: str | None) -> None:
        """Raise :class:`RateLimitedError` while the client or key id is out of tokens."""
        now = self.clock()
        with self._lock:
            waits = [
                b.wait(now) for n in self._names(client, key_id) if (b := self._buckets.get(n))
            ]
            wait = max(waits, default=0.0)
            if wait <= 0:
                return
            self._current.refused += 1
        retry = max(1, math.ceil(wait))
        raise RateLimitedError(
            f"too many failed authentication attempts; retry in {retry} s",
            details={"field": "authorization", "retry_after": retry},
        )

    def failed(self, client: str | None, key_id: str | None) -> None:
        """Count one failed authentication against the client and the key id."""
        now = self.clock()
        with self._lock:
            for name in self._names(client, key_id):
                bucket = self._buckets.get(name)
                if bucket is None:
                    bucket = TokenBucket(self.burst, self.rate, float(self.burst), now)
                    self._buckets[name] = bucket
                self._buckets.move_to_end(name)
                bucket.take(now)
            while len(self._buckets) > _MAX_BUCKETS:
                self._buckets.popitem(last=False)
            window = self._current
            window.failures += 1
            window.by_client[client or "unknown"] += 1
            if key_id:
                window.by_key[key_id] += 1

    def window_over(self) -> bool:
        """Whether the current audit window has run its length."""
        return self.clock() - self._current.started >= self.window

    def flush(self, *, force: bool = False) -> dict[str, Any] | None:
        """Close the window when it is over (or ``force``): record and return its summary.

        A window without failures or refusals records nothing. Full buckets are forgotten.
        """
        now = self.clock()
        with self._lock:
            window = self._current
            if not force and now - window.started < self.window:
                return None
            self._current = FailureWindow(started=now)
            for name in [n for n, b in self._buckets.items() if b.full(now)]:
                del self._buckets[name]
        if window.failures == 0 and window.refused == 0:
            return None
        summary = window.summary(now)
        if self._record is not None:
            self._record(summary)
        return summary
