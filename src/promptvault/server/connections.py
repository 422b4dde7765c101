"""Connection hygiene for ``promptvault serve``: header timeout, connection bound, quiet logs.

uvicorn only times out *idle keep-alive* connections: a client that opens a connection and
sends an unfinished request head (slowloris) keeps it for ever, and enough of them exhaust
the process's file descriptors. :class:`GuardedH11Protocol` (uvicorn's h11 protocol plus
two rules) closes that gap:

* **Header timeout**: a request head must arrive complete within ``header_timeout`` seconds
  of the connection opening, or of the first byte after the previous response. Otherwise
  the connection is closed. Bodies and responses are not limited by it.
* **Streams**: a ``/v1/stream`` response is a request being answered, so neither the
  header timeout nor the keep-alive timeout applies to it once its head is in; it does
  count against the connection bound (raise ``--max-connections`` for many streams). On
  shutdown the streams are ended at once (:func:`~promptvault.server.stream.close_streams`).
* **Connection bound**: beyond ``max_connections`` open connections in this process, a new
  connection's request is answered ``503 unavailable`` with ``Connection: close`` and
  ``Retry-After``, so it is freed at once instead of queueing; the bound is lowered to fit
  the process's open-file limit.

:class:`RepeatFilter` keeps logs bounded under attack: a message repeated within
``log_repeat_interval`` seconds (``Too many open files``, invalid requests) is logged once,
and the next time it is logged it says how many were suppressed.

The settings come from ``PROMPTVAULT_*`` variables (``serve`` sets them from its options),
because every worker process builds its own protocol instances.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from promptvault.config import Settings
from promptvault.server.metrics import Receive, Scope, Send
from promptvault.server.stream import close_streams

__all__ = [
    "PROTOCOL",
    "ConnectionLimits",
    "GuardedH11Protocol",
    "RepeatFilter",
    "install_repeat_filter",
]

PROTOCOL = "promptvault.server.connections:GuardedH11Protocol"
_FD_RESERVE = 64  # database, log and pool files the process needs besides connections
_QUIET_LOGGERS = ("uvicorn.error", "asyncio")

log = logging.getLogger("uvicorn.error")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The limits one server process applies to its connections."""

    header_timeout: float
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        """The settings' limits, the connection bound lowered to fit the open-file limit."""
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        bound = settings.max_connections
        if soft != resource.RLIM_INFINITY and soft - _FD_RESERVE < bound:
            bound = max(1, soft - _FD_RESERVE)
        return cls(header_timeout=settings.header_timeout, max_connections=bound)


class RepeatFilter(logging.Filter):
    """Let one record per (logger, message, error) through per ``interval`` seconds.

    The first record of a kind passes; later ones within the interval are counted and
    dropped; the first one after it passes with ``(N similar messages suppressed)``.
    """

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._seen: dict[tuple[Any, ...], tuple[float, int]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _kind(record: logging.LogRecord) -> tuple[Any, ...]:
        error = record.exc_info[1] if record.exc_info else None
        errno = getattr(error, "errno", None)
        return (record.name, record.levelno, str(record.msg), type(error).__name__, errno)

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether to emit ``record`` (annotated with the suppressed count when any)."""
        if self.interval <= 0:
            return True
        kind = self._kind(record)
        now = self._clock()
        with self._lock:
            last, suppressed = self._seen.get(kind, (float("-inf"), 0))
            if now - last < self.interval:
                self._seen[kind] = (last, suppressed + 1)
                return False
            if len(self._seen) > 1000:  # bounded: many kinds of message cannot grow it
                self._seen.clear()
            self._seen[kind] = (now, 0)
        if suppressed:
            record.msg = f"{record.msg} ({suppressed} similar messages suppressed)"
        return True


_installed: dict[str, RepeatFilter] = {}


def install_repeat_filter(interval: float) -> None:
    """Attach one :class:`RepeatFilter` to the loggers that repeat under load (idempotent)."""
    for name in _QUIET_LOGGERS:
        logger = logging.getLogger(name)
        current = _installed.get(name)
        if current is not None:
            current.interval = interval
            continue
        _installed[name] = RepeatFilter(interval)
        logger.addFilter(_installed[name])


async def _overloaded(scope: Scope, receive: Receive, send: Send) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "unavailable",
                "message": "the server has too many open connections; retry shortly",
                "details": {"retry_after": 1},
            }
        }
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
        (b"connection", b"close"),
        (b"x-content-type-options", b"nosniff"),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header timeout and a connection bound."""

    limits: ConnectionLimits | None = None  # per process, from the environment

    @classmethod
    def _limits(cls) -> ConnectionLimits:
        if cls.limits is None:
            settings = Settings()
            cls.limits = ConnectionLimits.from_settings(settings)
            install_repeat_filter(settings.log_repeat_interval)
        return cls.limits

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Count the connection; over the bound its request gets 503; start the clock."""
        super().connection_made(transport)
        limits = self._limits()
        self._header_timer: asyncio.TimerHandle | None = None
        self._head_since: float | None = None
        if len(self.connections) > limits.max_connections:
            self.app = _overloaded
            log.warning("connection limit (%d) reached: answering 503", limits.max_connections)
        self._start_head_clock()

    def data_received(self, data: bytes) -> None:
        """Start the clock on a new request's first byte; stop it when its head is in."""
        if self._head_since is None and (self.cycle is None or self.cycle.response_complete):
            self._start_head_clock()
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:  # a complete request head was parsed
            # Only the clock stops: the timer stays, and when it fires it finds no head
            # waiting (or the next one's start), so a request costs no timer of its own.
            self._head_since = None

    def shutdown(self) -> None:
        """End the change streams first: an open stream is a response in progress, which
        uvicorn would otherwise wait for until its graceful-shutdown timeout."""
        close_streams()
        super().shutdown()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the clock with the connection."""
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _start_head_clock(self) -> None:
        timeout = self._limits().header_timeout
        if timeout <= 0:
            return
        self._head_since = self.loop.time()
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(timeout, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        since = self._head_since
        if since is None:
            return  # no head is waiting; the next request's first byte starts the clock
        left = since + self._limits().header_timeout - self.loop.time()
        if left > 0:  # the head waiting now started after this timer was set
            self._header_timer = self.loop.call_later(left, self._header_timeout)
        elif not self.transport.is_closing():
            self.transport.close()
