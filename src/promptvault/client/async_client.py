"""``AsyncPromptVaultClient``: the SDK for asyncio applications, same semantics as the sync one.

Background refreshes are asyncio tasks (one per key at a time) instead of threads; the cache,
fallbacks and error rebuilding are shared with :class:`PromptVaultClient`, and so is all
the code the two clients have in common (this module's ``_client_async.py`` base, from
which the sync client's is generated). Here is only what an event loop changes: tasks,
partials read from the cache alone, a bound on each request's time, closing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from promptvault.client._api import Call
from promptvault.client._client_async import AsyncClientBase
from promptvault.client._core import NeedPartial, Unavailable, partial_template
from promptvault.client.cache import CacheKey
from promptvault.client.experiments_async import AsyncClientExperiments
from promptvault.integrations.otel import instrument

__all__ = ["AsyncPromptVaultClient"]

T = TypeVar("T")


class AsyncPromptVaultClient(AsyncClientBase):
    """Asynchronous SDK client; use one per event loop."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        cache_ttl: float = 60,
        timeout: float = 2.0,
        fallback_dir: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] | None = None,
        retries: int = 2,
        event_batch_size: int = 500,
        event_interval: float = 1.0,
        event_buffer: int = 10_000,
        push: bool | None = None,
    ) -> None:
        """``event_*`` tune the experiment event buffer and ``push`` the change stream as
        in ``PromptVaultClient`` (the stream runs in a task of the first loop that reads)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._push_task: asyncio.Task[None] | None = None
        super().__init__(
            base_url, api_key, cache_ttl, timeout, fallback_dir, transport, clock, retries, push
        )
        self.experiments = AsyncClientExperiments(
            self, batch_size=event_batch_size, interval=event_interval, max_buffer=event_buffer
        )
        self._core.forget_routing = self.experiments.forget
        self._track_forks()
        instrument(self, is_async=True)  # spans, only with OpenTelemetry installed

    def _after_fork(self) -> None:
        # No tasks of the parent's loop: the child's run in its own.
        self._tasks = set()
        self._push_task = None
        super()._after_fork()

    def _partial_source(self, ref: str) -> str:
        # Rendering is synchronous, so a partial comes from the cache; a missing one is
        # fetched by ``render`` (NeedPartial), which then renders again.
        core = self._core
        name = ref.strip()
        key = core.key(name)
        entry = core.entries.get(key)
        value = entry.value if entry is not None else core.last_good.get(key)
        if value is None:
            raise NeedPartial(name)
        return partial_template(name, value)

    async def aclose(self) -> None:
        """Send queued experiment events, wait for background refreshes, then close the
        connection pool."""
        self._closed = True
        await self.experiments.aclose()
        await self._stop_push()
        await self.wait_idle()
        await self._http.aclose()

    async def __aenter__(self) -> AsyncPromptVaultClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def wait_idle(self) -> None:
        """Wait until background refreshes started so far have finished."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- background work: tasks -----------------------------------------------------------

    async def _off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        # Disk reads and fsyncs go to a worker thread; without a fallback_dir there are none.
        if self._core.disk is None:
            return fn(*args)
        return await asyncio.to_thread(fn, *args)

    def _refresh_in_background(self, key: CacheKey) -> None:
        if not self._core.begin_refresh(key):
            return
        task = asyncio.get_running_loop().create_task(self._refresh(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _start_push(self) -> None:
        args, self._push_args = self._push_args, None
        if args is None:
            return
        stream = self._new_push(*args)
        self._push_task = asyncio.get_running_loop().create_task(self._follow(stream))

    async def _stop_push(self) -> None:
        self._push_args = None
        task, self._push_task = self._push_task, None
        if self._push is not None:
            self._push.state.stopped = True
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _request(
        self, call: Call[Any], headers: Mapping[str, str] | None, timeout: float
    ) -> httpx.Response:
        params = call.params or None
        request = self._http.request(
            call.method, call.path, params=params, json=call.json, headers=headers, timeout=timeout
        )
        try:
            # The network timeout alone cannot bound a transport that never answers.
            return await asyncio.wait_for(request, timeout=timeout)
        except TimeoutError:
            raise Unavailable("timed out") from None
