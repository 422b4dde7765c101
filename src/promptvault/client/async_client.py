"""``AsyncPromptVaultClient``: the SDK for asyncio applications, same semantics as the sync one.

Background refreshes are asyncio tasks (one per key at a time) instead of threads; the cache,
fallbacks and error rebuilding are shared with :class:`PromptVaultClient`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import httpx

from promptvault.builder import BuiltRequest, PromptBuilder
from promptvault.client import _api
from promptvault.client._api import Call
from promptvault.client._audit_async import AsyncClientAudit
from promptvault.client._calls_async import AsyncStoreCalls
from promptvault.client._changes_async import AsyncClientChanges
from promptvault.client._core import (
    EMPTY,
    HTTP_LIMITS,
    MISSING,
    ClientCore,
    NeedPartial,
    NotModified,
    Unavailable,
    auth_headers,
    backoff_delay,
    partial_template,
    render_fallback,
    transport_reason,
    uses_partials,
)
from promptvault.client._evals_async import AsyncClientEvals
from promptvault.client._push_async import AsyncPushStream
from promptvault.client.cache import CacheKey
from promptvault.client.events import FlushResult
from promptvault.client.experiments_async import AsyncClientExperiments
from promptvault.client.push import PushState
from promptvault.entities import PromptVersion, text_output
from promptvault.errors import NotFoundError, PromptUnavailable, PromptVaultError
from promptvault.integrations.otel import instrument

__all__ = ["AsyncPromptVaultClient"]

T = TypeVar("T")
_MAX_PARTIAL_FETCHES = 32  # the engine's own partial depth limit


class AsyncPromptVaultClient(AsyncStoreCalls):
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
        self._core = ClientCore(
            base_url, cache_ttl=cache_ttl, fallback_dir=fallback_dir, clock=clock
        )
        self._hot = self._core.hot
        self._now = self._core.now
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self._http_args: dict[str, Any] = {
            "base_url": self._core.server,
            "headers": auth_headers(api_key),
            "timeout": self.timeout,
            "limits": HTTP_LIMITS,
            "transport": transport,
        }
        self._http = httpx.AsyncClient(**self._http_args)
        self._tasks: set[asyncio.Task[None]] = set()
        self._core.partials = self._partial_source
        self._builder = PromptBuilder()
        self.experiments = AsyncClientExperiments(
            self, batch_size=event_batch_size, interval=event_interval, max_buffer=event_buffer
        )
        self.audit = AsyncClientAudit(self._call)
        self.evals = AsyncClientEvals(self._call, asyncio.sleep)
        self.events = AsyncClientChanges(self._call)
        self._core.forget_routing = self.experiments.forget
        wanted = push if push is not None else transport is None
        self._push_args: tuple[str | None, httpx.AsyncBaseTransport | None] | None = (
            (api_key, transport) if wanted and self._core.enabled else None
        )
        self._push_config = self._push_args
        self._push: AsyncPushStream | None = None
        self._push_task: asyncio.Task[None] | None = None
        self._push_cursor: int | None = None  # where a forked child's stream resumes
        self._closed = False
        _LIVE.add(self)
        instrument(self, is_async=True)  # spans, only with OpenTelemetry installed

    def _after_fork(self) -> None:
        """In a forked child: keep the cache; new connections, no tasks of the parent's
        loop, and the child's own change stream from its next read (in its own loop),
        resuming from the parent's place in the stream."""
        self._tasks = set()
        self._core.after_fork()
        self.experiments.after_fork()
        self._http = httpx.AsyncClient(**self._http_args)
        stream, self._push, self._push_task = self._push, None, None
        if stream is not None:
            self._push_cursor = stream.state.cursor
            if stream.state.unsupported:
                return
        if not self._closed and self._push_config is not None:
            self._push_args = self._push_config

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

    # --- reads ----------------------------------------------------------------------------

    async def get(
        self, ref: str, *, fallback: Any = MISSING, unit_id: Any = MISSING
    ) -> PromptVersion:
        """Resolve a reference (cached, never failing); see ``PromptVaultClient.get``
        (``unit_id`` goes through a running experiment)."""
        entry = self._hot.get(ref)
        if entry is not None and entry.expires > self._now():
            if unit_id is MISSING:
                return entry.value
            return await self.experiments.route(entry.value, unit_id)
        if unit_id is MISSING:
            return await self._get_slow(ref, fallback)
        return await self.experiments.route(await self._get_slow(ref, fallback), unit_id)

    async def render(
        self,
        ref: str,
        variables: Mapping[str, Any] | None = None,
        *,
        placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        strict: bool = True,
        fallback: Any = MISSING,
        unit_id: Any = MISSING,
    ) -> Any:
        """Render locally; see ``PromptVaultClient.render``."""
        if unit_id is not MISSING:
            routed = await self.get(ref, fallback=fallback, unit_id=unit_id)
            if routed.experiment is not None:
                ref = f"{routed.name}@{routed.version}"
        entry = self._hot.get(ref)
        if entry is not None and entry.expires > self._now():
            fast = entry.fast
            if fast is not None and strict and variables is not None and not placeholders:
                try:
                    out = fast(variables)
                    return out if out.isascii() else text_output(out, variables)
                except NeedPartial:
                    pass  # the slow path fetches the partial
        for _ in range(_MAX_PARTIAL_FETCHES):
            try:
                return await self._render_once(ref, variables, placeholders, strict, fallback)
            except NeedPartial as need:
                await self.get(need.ref)
        return await self._render_once(ref, variables, placeholders, strict, fallback)

    async def build(
        self,
        ref: str,
        variables: Mapping[str, Any] | None = None,
        *,
        unit_id: Any = MISSING,
        examples: str | Mapping[str, Any] | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        now: datetime | None = None,
        strict: bool = True,
    ) -> BuiltRequest:
        """Build a provider-neutral request, like ``PromptVaultClient.build``.

        Without ``examples`` it is built here from the cached version (no network call when
        warm, last known good when the server is down); with ``examples`` the server selects
        them (``POST /v1/prompts/{name}/build``) for the version resolved here.
        """
        if unit_id is MISSING:
            version = await AsyncPromptVaultClient.get(self, ref)  # not traced on its own
        else:
            version = await AsyncPromptVaultClient.get(self, ref, unit_id=unit_id)
        if examples is not None:
            from promptvault.client.fewshot import build_call, keep_resolution

            call = build_call(
                version.name,
                version.version,
                variables,
                examples=examples,
                history=history,
                placeholders=placeholders,
                now=now,
                strict=strict,
            )
            return keep_resolution(await self._call(call), version)
        partials = self._core.partials if uses_partials(version) else None
        for _ in range(_MAX_PARTIAL_FETCHES):
            try:
                return self._builder.build(
                    version,
                    variables,
                    history=history,
                    placeholders=placeholders,
                    now=now,
                    strict=strict,
                    partials=partials,
                )
            except NeedPartial as need:
                await self.get(need.ref)  # cached now: build again
        return self._builder.build(
            version,
            variables,
            history=history,
            placeholders=placeholders,
            now=now,
            strict=strict,
            partials=partials,
        )

    async def _render_once(
        self,
        ref: str,
        variables: Mapping[str, Any] | None,
        placeholders: Any,
        strict: bool,
        fallback: Any,
    ) -> Any:
        core = self._core
        try:
            version = await self._get_slow(ref, MISSING)
        except PromptUnavailable:
            if fallback is MISSING:
                raise
            return render_fallback(fallback, variables or EMPTY, placeholders)
        except NotFoundError as exc:
            key = core.key(ref)
            if fallback is MISSING or key not in core.changed:
                raise
            core.serve_gone(key, fallback, exc)  # removed by a change event: warned once
            return render_fallback(fallback, variables or EMPTY, placeholders)
        return ClientCore.render_entry(
            core.compiled_for(version),
            version.type == "chat",
            variables or EMPTY,
            placeholders,
            strict,
            prep=core.prep_for(version),
        )

    async def _get_slow(self, ref: str, fallback: Any) -> PromptVersion:
        if self._push_args is not None:
            self._start_push()
        core = self._core
        key = core.key(ref)
        entry = core.entries.get(key)
        if entry is not None:
            core.hot[ref] = entry
            stale = entry.value  # read before the refresh can replace it
            if entry.expires <= self._now():
                self._refresh_in_background(key)
            return stale
        removed = core.gone_error(key)
        if removed is not None:
            return core.serve_gone(key, fallback, removed)  # type: ignore[no-any-return]
        since = core.generation
        try:
            value = await self._fetch(key)
        except Unavailable as exc:
            result = await self._off_loop(core.fallback, key, fallback, exc.reason)
            return result  # type: ignore[no-any-return]
        except NotFoundError as exc:
            return core.not_found(key, exc, fallback)  # type: ignore[no-any-return]
        await self._off_loop(partial(core.store, since=since), ref, key, value)
        return value

    # --- push -----------------------------------------------------------------------------

    @property
    def push_connected(self) -> bool:
        """Whether the change stream is open now (False: off, or polling until back)."""
        return self._push is not None and self._push.state.connected

    def _start_push(self) -> None:
        args, self._push_args = self._push_args, None
        if args is None:
            return
        api_key, transport = args
        http = httpx.AsyncClient(
            base_url=self._core.server, headers=auth_headers(api_key), transport=transport
        )
        state = PushState(self._core)
        state.cursor = self._push_cursor
        self._push = AsyncPushStream(http, state, self._push_refresh, timeout=self.timeout)
        self._push_task = asyncio.get_running_loop().create_task(self._follow(self._push))

    @staticmethod
    async def _follow(stream: AsyncPushStream) -> None:
        try:
            await stream.run()
        finally:
            await stream.http.aclose()

    async def _push_refresh(self, key: CacheKey, since: int) -> None:
        """A change event touched ``key``: fetch it now (on failure the TTL takes over)."""
        core = self._core
        try:
            value = await self._fetch(key)
        except (Unavailable, PromptVaultError):
            entry = core.entries.get(key)
            if entry is not None:
                entry.expires = 0.0  # stale: the next get refreshes it
            return
        await self._off_loop(partial(core.store, since=since), None, key, value)

    async def _stop_push(self) -> None:
        self._push_args = None
        task, self._push_task = self._push_task, None
        if self._push is not None:
            self._push.state.stopped = True
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        # Disk reads and fsyncs go to a worker thread; without a fallback_dir there are none.
        if self._core.disk is None:
            return fn(*args)
        return await asyncio.to_thread(fn, *args)

    async def _fetch(self, key: CacheKey, etag: str | None = None) -> PromptVersion:
        call = _api.resolve(key.name, label=key.label, version=key.version)
        headers = {"If-None-Match": f'"{etag}"'} if etag else None
        response = await self._send(call, headers)
        if response.status_code == 304:
            raise NotModified
        return ClientCore.decode(call, response)  # type: ignore[no-any-return]

    def _refresh_in_background(self, key: CacheKey) -> None:
        if not self._core.begin_refresh(key):
            return
        task = asyncio.get_running_loop().create_task(self._refresh(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(self, key: CacheKey) -> None:
        try:
            entry = self._core.entries.get(key)
            if entry is not None and entry.partial_refs:
                for ref in sorted(entry.partial_refs):
                    await self._refresh_key(self._core.key(ref))
            await self._refresh_key(key)
        finally:
            self._core.end_refresh(key)

    async def _refresh_key(self, key: CacheKey) -> None:
        core = self._core
        entry = core.entries.get(key)
        etag = entry.value.hash if entry is not None else None
        since = core.generation
        try:
            value = await self._fetch(key, etag)
        except NotModified:
            if entry is not None:
                if entry.partial_refs is not None:
                    core.recompile(entry)
                entry.expires = self._now() + core.cache_ttl
            return
        except NotFoundError:
            core.evict(key)
            return
        except (Unavailable, PromptVaultError):
            core.refresh_failed(key)
            return
        await self._off_loop(partial(core.store, since=since), None, key, value)

    # --- HTTP -----------------------------------------------------------------------------

    async def _send(
        self, call: Call[Any], headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        deadline = time.monotonic() + self.timeout
        attempts = 1 + (self.retries if call.idempotent else 0)
        failure: Unavailable | None = None
        for attempt in range(attempts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                # The network timeout alone cannot bound a transport that never answers.
                response = await asyncio.wait_for(
                    self._http.request(
                        call.method,
                        call.path,
                        params=call.params or None,
                        json=call.json,
                        headers=headers,
                        timeout=remaining,
                    ),
                    timeout=remaining,
                )
            except (httpx.HTTPError, TimeoutError) as exc:
                reason = transport_reason(exc) if isinstance(exc, httpx.HTTPError) else "timed out"
                failure = Unavailable(reason)
            else:
                if response.status_code < 500 and response.status_code != 429:
                    return response
                if attempt + 1 == attempts:
                    return response
                failure = Unavailable(f"server answered {response.status_code}")
            if attempt + 1 < attempts:
                pause = backoff_delay(attempt)
                if time.monotonic() + pause >= deadline:
                    break
                await asyncio.sleep(pause)
        raise failure or Unavailable(f"timed out after {self.timeout:g}s")

    async def _call(self, call: Call[T]) -> T:
        try:
            return ClientCore.decode(call, await self._send(call))  # type: ignore[no-any-return]
        except Unavailable as exc:
            raise ClientCore.unavailable_error(exc, call) from None

    # --- experiment events -------------------------------------------------------------------

    def record_outcome(self, experiment: str, unit_id: str, metric: str, value: float) -> bool:
        """Queue an outcome (sent in the background); False when the buffer was full."""
        return self.experiments.record_outcome(experiment, unit_id, metric, value)

    def record_exposure(
        self, experiment: str, unit_id: str | None, *, variant: str | None = None
    ) -> bool:
        """Queue an exposure by hand (``get(..., unit_id=...)`` records its own)."""
        return self.experiments.record_exposure(experiment, unit_id, variant=variant)

    @property
    def dropped(self) -> int:
        """Experiment events lost so far (reported to the server's ``/metrics`` too)."""
        return self.experiments.dropped

    async def flush(self) -> FlushResult:
        """Send queued experiment events now; returns ``(sent, lost, waiting)`` since the
        previous flush."""
        return await self.experiments.flush()


_LIVE: weakref.WeakSet[AsyncPromptVaultClient] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_LIVE):
        client._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
