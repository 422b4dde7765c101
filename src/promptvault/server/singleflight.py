"""One database read for many concurrent requests that need the same missing answer.

When a cached label pointer or API key expires, every request in flight at that moment
misses together. Without coordination each one sends the same query from its own worker
thread, and on PostgreSQL they queue for pool connections: a latency spike at every TTL
boundary. ``SingleFlight`` lets the first request do the read while the others await it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

__all__ = ["SingleFlight"]

T = TypeVar("T")


class SingleFlight:
    """Concurrent callers with the same key share one call of a blocking function."""

    def __init__(self) -> None:
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}

    async def run(self, key: Hashable, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker thread, or the result of the call under way."""
        pending = self._inflight.get(key)
        if pending is not None:
            # shield: a waiter that goes away must not cancel the call the others await.
            result: T = await asyncio.shield(pending)
            return result
        shared: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = shared
        try:
            value = await run_in_threadpool(fn, *args, **kwargs)
        except asyncio.CancelledError:
            shared.cancel()
            raise
        except Exception as exc:
            shared.set_exception(exc)
            shared.exception()  # retrieved here, so an unawaited failure logs nothing
            raise
        else:
            shared.set_result(value)
            return value
        finally:
            del self._inflight[key]
