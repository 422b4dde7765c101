# Generated from _client_async.py by scripts/unasync.py: do not edit, change the source and
# run `python scripts/unasync.py`.
"""Both SDK clients, written once: what they do with the cache and the network.

Generated from ``_client_async.py`` (the hand-written source) by
``scripts/unasync.py`` (CI runs it with ``--check``), so the two clients cannot drift:
reads through the cache, background refreshes, the change stream's fetches, sending with
retries, builds and the experiment calls. What really differs stays in each client's own
module: threads or tasks for background work, the warm render path, how partials are
found, how one request is bounded in time, closing, and what a fork leaves behind.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from promptvault.builder import BuiltRequest, PromptBuilder
from promptvault.client import _api
from promptvault.client._api import Call
from promptvault.client._audit_sync import ClientAudit
from promptvault.client._calls_sync import StoreCalls
from promptvault.client._changes_sync import ClientChanges
from promptvault.client._core import (
    EMPTY,
    HTTP_LIMITS,
    MAX_PARTIAL_FETCHES,
    MISSING,
    ClientCore,
    NeedPartial,
    NotModified,
    Unavailable,
    auth_headers,
    backoff_delay,
    render_fallback,
    transport_reason,
    uses_partials,
)
from promptvault.client._evals_sync import ClientEvals
from promptvault.client._event_buffer import FlushResult
from promptvault.client._push_sync import PushStream
from promptvault.client.cache import CacheKey
from promptvault.client.experiments import ClientExperiments
from promptvault.client.fewshot import build_call, keep_resolution
from promptvault.client.push import PushState
from promptvault.entities import PromptVersion, text_output
from promptvault.errors import NotFoundError, PromptUnavailable, PromptVaultError

if TYPE_CHECKING:
    from promptvault.fewshot.examples_for_build import Selection

__all__ = ["ClientBase"]

T = TypeVar("T")


class ClientBase(StoreCalls):
    """The sync client less its own module's parts (see the module's docstring)."""

    experiments: ClientExperiments

    def __init__(  # noqa: PLR0917 (the two clients pass their settings in this order)
        self,
        base_url: str,
        api_key: str | None,
        cache_ttl: float,
        timeout: float,
        fallback_dir: str | None,
        transport: httpx.BaseTransport | None,
        clock: Callable[[], float] | None,
        retries: int,
        push: bool | None,
    ) -> None:
        self._core = ClientCore(
            base_url, cache_ttl=cache_ttl, fallback_dir=fallback_dir, clock=clock
        )
        # Bound once: the hot path reads two attributes and calls nothing else.
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
        self._http = httpx.Client(**self._http_args)
        self._builder = PromptBuilder()
        self._core.partials = self._partial_source
        self.audit = ClientAudit(self._call)
        self.evals = ClientEvals(self._call, time.sleep)
        self.events = ClientChanges(self._call)
        wanted = push if push is not None else transport is None
        self._push_args: tuple[str | None, httpx.BaseTransport | None] | None = (
            (api_key, transport) if wanted and self._core.enabled else None
        )
        self._push_config = self._push_args
        self._push: PushStream | None = None
        self._push_cursor: int | None = None  # where a forked child's stream resumes
        self._closed = False

    def _track_forks(self) -> None:
        """Once made: in a child of ``os.fork`` this client calls :meth:`_after_fork`."""
        _LIVE.add(self)

    def _after_fork(self) -> None:
        """In a forked child (``os.register_at_fork``): keep the cache; new connections,
        since the inherited pool's are the parent's (never read or close them here), an
        empty event queue, and this process's own change stream from its next read,
        resuming from the parent's place in it."""
        self._core.after_fork()
        self.experiments.after_fork()
        self._http = httpx.Client(**self._http_args)
        stream, self._push = self._push, None
        if stream is not None:
            self._push_cursor = stream.state.cursor
            if stream.state.unsupported:
                return
        if not self._closed and self._push_config is not None:
            self._push_args = self._push_config

    def _partial_source(self, ref: str) -> str:
        raise NotImplementedError  # how the client finds an included prompt

    # --- reads ----------------------------------------------------------------------------

    def get(
        self,
        ref: str,
        *,
        fallback: Any = MISSING,
        unit_id: Any = MISSING,
    ) -> PromptVersion:
        """Resolve ``name``, ``name@label`` or ``name@7`` to a version (cached, never failing).

        With ``unit_id`` a label reference goes through the experiment running on it: the
        unit is assigned locally and its variant's version comes back with ``experiment``
        and ``variant`` set (an exposure is queued). ``unit_id=None`` assigns at random.
        """
        entry = self._hot.get(ref)
        if entry is not None and entry.expires > self._now():
            if unit_id is MISSING:
                return entry.value
            return self.experiments.route(entry.value, unit_id)
        if unit_id is MISSING:
            return self._get_slow(ref, fallback)
        return self.experiments.route(self._get_slow(ref, fallback), unit_id)

    def render(
        self,
        ref: str,
        variables: Mapping[str, Any] | None = None,
        *,
        placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        strict: bool = True,
        fallback: Any = MISSING,
        unit_id: Any = MISSING,
    ) -> Any:
        """Render locally: a string for text prompts, a list of messages for chat prompts.

        ``fallback`` is used only when the prompt is unavailable: a PromptVersion, a text
        template or a list of chat messages, rendered with the same variables.
        ``unit_id`` routes through a running experiment as in :meth:`get`.
        """
        # The sync client replaces this with its own ``_render``: positional (keyword-only
        # parameters cost a generic, slower call in CPython) and with a warm path that
        # reads no clock.
        if unit_id is not MISSING:
            ref = self._routed(ref, fallback, unit_id)
        entry = self._hot.get(ref)
        if entry is not None and entry.expires > self._now():
            fast = entry.fast
            if fast is not None and strict and variables is not None and not placeholders:
                try:
                    out = fast(variables)
                    return out if out.isascii() else text_output(out, variables)
                except NeedPartial:
                    pass  # the slow path fetches the partial
        fetched = 0
        while True:
            try:
                return self._render_slow(ref, variables, placeholders, strict, fallback)
            except NeedPartial as need:  # not cached yet: fetch it, then render again
                fetched += 1
                if fetched > MAX_PARTIAL_FETCHES:
                    raise
                self.get(need.ref)

    def _routed(self, ref: str, fallback: Any, unit_id: Any) -> str:
        """The reference to render for ``unit_id``: its variant's version, if an experiment
        runs on ``ref``."""
        routed = self.get(ref, fallback=fallback, unit_id=unit_id)
        return ref if routed.experiment is None else f"{routed.name}@{routed.version}"

    def _render_slow(
        self,
        ref: str,
        variables: Mapping[str, Any] | None,
        placeholders: Any,
        strict: bool,
        fallback: Any,
    ) -> Any:
        core = self._core
        try:
            version = self._get_slow(ref, MISSING)
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

    def build(
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
        """Build a provider-neutral request, like ``vault.build``, from the cached version:
        no network call when warm, the last known good version when the server is down.

        With ``examples`` the server selects them (``POST /v1/prompts/{name}/build``) for
        the version resolved here, unless the sync client can select them itself from its
        copy of the collection (see :mod:`promptvault.client.fewshot`).
        """
        # The class's get, not the instance's: a build is one span, not a build span and a
        # resolve span inside it (the build's span names the version already).
        if unit_id is MISSING:
            version = ClientBase.get(self, ref)
        else:
            version = ClientBase.get(self, ref, unit_id=unit_id)
        picked = None if examples is None else self._local_examples(version, variables, examples)
        if examples is not None and picked is None:
            # The server picks (and counts) the examples; the version stays the one resolved
            # here, so an experiment assignment made locally is kept.
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
            return keep_resolution(self._call(call), version)
        # Included prompts resolve through this client's cache and fallbacks, as in render.
        partials = self._core.partials if uses_partials(version) else None
        fetched = 0
        while True:
            try:
                if picked is None:
                    return self._builder.build(
                        version,
                        variables,
                        history=history,
                        placeholders=placeholders,
                        now=now,
                        strict=strict,
                        partials=partials,
                    )
                return self._builder.build(
                    version,
                    variables,
                    examples=picked.examples,
                    examples_reason=picked.reason,
                    example_template=picked.template,
                    history=history,
                    placeholders=placeholders,
                    now=now,
                    strict=strict,
                    partials=partials,
                    collection=picked.collection,
                    strategy=picked.strategy,
                )
            except NeedPartial as need:  # not cached yet: fetch it, then build again
                fetched += 1
                if fetched > MAX_PARTIAL_FETCHES:
                    raise
                self.get(need.ref)

    def _local_examples(
        self, version: PromptVersion, variables: Any, examples: str | Mapping[str, Any]
    ) -> Selection | None:
        """Examples selected here, or None: the server selects them (the sync client
        selects here when it holds a copy of the collection)."""
        return None

    def _get_slow(self, ref: str, fallback: Any) -> PromptVersion:
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
            value = self._fetch(key)
        except Unavailable as exc:
            result = self._off_loop(core.fallback, key, fallback, exc.reason)
            return result  # type: ignore[no-any-return]
        except NotFoundError as exc:
            return core.not_found(key, exc, fallback)  # type: ignore[no-any-return]
        self._off_loop(partial(core.store, since=since), ref, key, value)
        return value

    def _off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError  # ``fn(*args)``, kept off the event loop if it blocks

    def _fetch(self, key: CacheKey, etag: str | None = None) -> PromptVersion:
        call = _api.resolve(key.name, label=key.label, version=key.version)
        headers = {"If-None-Match": f'"{etag}"'} if etag else None
        response = self._send(call, headers)
        if response.status_code == 304:
            raise NotModified
        return ClientCore.decode(call, response)  # type: ignore[no-any-return]

    def _refresh_in_background(self, key: CacheKey) -> None:
        raise NotImplementedError  # ``_refresh(key)`` in a thread or a task

    def _refresh(self, key: CacheKey) -> None:
        try:
            entry = self._core.entries.get(key)
            if entry is not None and entry.partial_refs:
                # Refresh the included prompts first so the recompile below sees them.
                for ref in sorted(entry.partial_refs):
                    self._refresh_key(self._core.key(ref))
            self._refresh_key(key)
        finally:
            self._core.end_refresh(key)

    def _refresh_key(self, key: CacheKey) -> None:
        core = self._core
        entry = core.entries.get(key)
        etag = entry.value.hash if entry is not None else None
        since = core.generation
        try:
            value = self._fetch(key, etag)
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
        self._off_loop(partial(core.store, since=since), None, key, value)

    # --- push -----------------------------------------------------------------------------

    @property
    def push_connected(self) -> bool:
        """Whether the change stream is open now (False: off, or polling until back)."""
        return self._push is not None and self._push.state.connected

    def _start_push(self) -> None:
        raise NotImplementedError  # ``_new_push`` followed by a thread or a task

    def _new_push(
        self,
        api_key: str | None,
        transport: httpx.BaseTransport | None,
    ) -> PushStream:
        """The change stream, on its own connection, resuming where a parent left it."""
        http = httpx.Client(
            base_url=self._core.server, headers=auth_headers(api_key), transport=transport
        )
        state = PushState(self._core)
        state.cursor = self._push_cursor
        self._push = PushStream(http, state, self._push_refresh, timeout=self.timeout)
        return self._push

    @staticmethod
    def _follow(stream: PushStream) -> None:
        try:
            stream.run()
        finally:
            stream.http.close()

    def _push_refresh(self, key: CacheKey, since: int) -> None:
        """A change event touched ``key``: fetch it now (on failure the TTL takes over)."""
        core = self._core
        try:
            value = self._fetch(key)
        except (Unavailable, PromptVaultError):
            entry = core.entries.get(key)
            if entry is not None:
                entry.expires = 0.0  # stale: the next get refreshes it
            return
        self._off_loop(partial(core.store, since=since), None, key, value)

    # --- HTTP -----------------------------------------------------------------------------

    def _send(
        self,
        call: Call[Any],
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with one overall deadline; retry transient failures of idempotent calls."""
        deadline = time.monotonic() + self.timeout
        attempts = 1 + (self.retries if call.idempotent else 0)
        failure: Unavailable | None = None
        for attempt in range(attempts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                response = self._request(call, headers, remaining)
            except httpx.HTTPError as exc:
                failure = Unavailable(transport_reason(exc))
            except Unavailable as exc:  # the client's own bound on the request's time
                failure = exc
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
                time.sleep(pause)
        raise failure or Unavailable(f"timed out after {self.timeout:g}s")

    def _request(
        self, call: Call[Any], headers: Mapping[str, str] | None, timeout: float
    ) -> httpx.Response:
        raise NotImplementedError  # one attempt, within ``timeout`` seconds

    def _call(self, call: Call[T]) -> T:
        """Run a call whose failure is an error for the caller (writes, listings)."""
        try:
            return ClientCore.decode(call, self._send(call))  # type: ignore[no-any-return]
        except Unavailable as exc:
            raise ClientCore.unavailable_error(exc, call) from None

    # --- experiment events -------------------------------------------------------------------

    def record_outcome(self, experiment: str, unit_id: str, metric: str, value: float) -> bool:
        """Queue an outcome (sent in the background); False when it was dropped: the buffer
        stayed full (the sync client waits ``event_block_timeout`` for room first)."""
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

    def flush(self) -> FlushResult:
        """Send queued experiment events now; returns ``(sent, lost, waiting)`` since the
        previous flush (``waiting``: kept for a retry while the server is unreachable)."""
        return self.experiments.flush()


_LIVE: weakref.WeakSet[ClientBase] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_LIVE):
        client._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
