"""``PromptVaultClient``: the SDK applications use to read and render prompts.

Reads are served from memory whenever possible. A label pointer, or a version pinned by
number, is fresh for ``cache_ttl`` seconds, then the stale value is returned at once while
one background thread per key refreshes it (a pinned version's refresh is a 304, unless its
prompt was archived meanwhile: then it is evicted and ``PromptNotFound`` raised).
When the server is down, slow or failing, ``get``/``render`` fall back to the last known
good value in memory, then on disk (``fallback_dir``), then the caller's ``fallback=``; only
when none exists do they raise :class:`~promptvault.errors.PromptUnavailable`.

Errors the server reports are rebuilt as the same classes :class:`~promptvault.Vault`
raises (``PromptNotFound``, ``MissingVariablesError``...), so code works against either.

With ``push`` (on by default) a background thread follows the server's change stream
(``GET /v1/stream``, see :mod:`promptvault.client.push`): a moved label is fetched again
at once, a removed label or archived prompt is evicted and never served from memory again.
The TTL still applies, so while the stream is down the client polls as without push.

A client made before ``os.fork`` (gunicorn's pre-fork, ``multiprocessing`` with ``fork``)
works in the child: its cache is kept, its locks, connection pool and event queue are new,
and the child opens its own change stream at its next call, resuming from the parent's
place in it, so nothing that changed around the fork is missed.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from promptvault.builder import BuiltRequest
from promptvault.client import _api
from promptvault.client._api import Call
from promptvault.client._audit_sync import ClientAudit
from promptvault.client._calls_sync import StoreCalls
from promptvault.client._changes_sync import ClientChanges
from promptvault.client._core import (
    EMPTY,
    HTTP_LIMITS,
    MISSING,
    ClientCore,
    NotModified,
    Unavailable,
    auth_headers,
    backoff_delay,
    partial_template,
    render_fallback,
    transport_reason,
)
from promptvault.client._evals_sync import ClientEvals
from promptvault.client._push_sync import PushStream
from promptvault.client.cache import CacheKey
from promptvault.client.events import FlushResult
from promptvault.client.experiments import ClientExperiments
from promptvault.client.fewshot import LocalBuilds
from promptvault.client.push import PushState
from promptvault.entities import PromptVersion, text_output
from promptvault.errors import NotFoundError, PromptUnavailable, PromptVaultError
from promptvault.integrations.otel import instrument

__all__ = ["PromptVaultClient"]

T = TypeVar("T")


class PromptVaultClient(StoreCalls):
    """Synchronous SDK client; safe to share between threads.

    ``transport`` replaces the network (an ``httpx`` transport: tests, in-process apps);
    ``clock`` replaces ``time.monotonic`` for the cache's notion of time. ``push`` follows
    the server's change stream (default: on when caching is on and no ``transport`` is
    given; off by itself against a server without ``/v1/stream``).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        cache_ttl: float = 60,
        timeout: float = 2.0,
        fallback_dir: str | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] | None = None,
        retries: int = 2,
        event_batch_size: int = 500,
        event_interval: float = 1.0,
        event_buffer: int = 10_000,
        event_block_timeout: float = 5.0,
        push: bool | None = None,
    ) -> None:
        """``event_*`` tune the experiment event buffer: batch size, seconds between sends,
        how many events may wait, and how long recording waits for room in a full buffer
        before the event is dropped (and counted in :attr:`dropped`)."""
        self._core = ClientCore(
            base_url, cache_ttl=cache_ttl, fallback_dir=fallback_dir, clock=clock
        )
        # Bound once: the hot path reads two attributes and calls nothing else.
        self._hot = self._core.hot
        self._live = self._core.live
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
        self._threads: set[threading.Thread] = set()
        self.experiments = ClientExperiments(
            self,
            batch_size=event_batch_size,
            interval=event_interval,
            max_buffer=event_buffer,
            block_timeout=event_block_timeout,
        )
        self.audit = ClientAudit(self._call)
        self.evals = ClientEvals(self._call, time.sleep)
        self.events = ClientChanges(self._call)
        self._core.forget_routing = self.experiments.forget
        wanted = push if push is not None else transport is None
        self._push_args: tuple[str | None, httpx.BaseTransport | None] | None = (
            (api_key, transport) if wanted and self._core.enabled else None
        )
        self._push_config = self._push_args
        self._push: PushStream | None = None
        self._push_cursor: int | None = None  # where a forked child's stream resumes
        self._push_lock = threading.Lock()
        self._closed = False
        self._core.partials = self._partial_source
        self._builds = LocalBuilds(self, self._core)
        _LIVE.add(self)
        instrument(self)  # spans for get/render/build, only with OpenTelemetry installed

    def _after_fork(self) -> None:
        """In a forked child (``os.register_at_fork``): the parent's threads are gone and
        its locks may have been held by them; its sockets stay the parent's. Keep the
        cache, make the rest anew, and let the next call start this process's stream."""
        self._threads = set()
        self._push_lock = threading.Lock()
        self._core.after_fork()
        self.experiments.after_fork()
        self._builds.after_fork()
        # The inherited pool's connections are the parent's: never read or close them here.
        self._http = httpx.Client(**self._http_args)
        stream, self._push = self._push, None
        if stream is not None:
            self._push_cursor = stream.state.cursor
            if stream.state.unsupported:
                return
        if not self._closed and self._push_config is not None:
            self._push_args = self._push_config

    def _partial_source(self, ref: str) -> str:
        # Partials are other prompts: resolved through this client's cache and fallbacks.
        name = ref.strip()
        return partial_template(name, self.get(name))

    # --- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Send queued experiment events, wait briefly for background refreshes, then close
        the connection pool."""
        self._closed = True
        self.experiments.close()
        self._stop_push()
        self.wait_idle(timeout=self.timeout)
        self._http.close()

    def __enter__(self) -> PromptVaultClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block until background refreshes started so far have finished."""
        for thread in list(self._threads):
            thread.join(timeout)

    # --- reads ----------------------------------------------------------------------------

    def get(self, ref: str, *, fallback: Any = MISSING, unit_id: Any = MISSING) -> PromptVersion:
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

    if TYPE_CHECKING:
        # What callers and type checkers see: the options are keyword-only.
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
            """Render locally (see :meth:`_render`)."""
            return self._render(ref, variables, placeholders, strict, fallback, unit_id)

    def _render(  # noqa: PLR0917 (positional on purpose, see below)
        self,
        ref: str,
        variables: Mapping[str, Any] | None = None,
        placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        strict: bool = True,
        fallback: Any = MISSING,
        unit_id: Any = MISSING,
    ) -> Any:
        """Render locally: a string for text prompts, a list of messages for chat prompts.

        ``fallback`` is used only when the prompt is unavailable: a PromptVersion, a text
        template or a list of chat messages, rendered with the same variables.
        ``unit_id`` routes through a running experiment as in :meth:`get`. Pass the options
        by keyword (``render`` is typed keyword-only).
        """
        # The warm path reads no clock: ``live`` holds only fresh entries' renderers (see
        # ClientCore.promote). Keyword-only parameters would cost a generic, slower call in
        # CPython, hence the positional runtime signature behind the typed one above.
        try:
            fast = self._live[ref]
        except KeyError:
            fast = None
        if (
            fast is not None
            and variables is not None
            and strict
            and placeholders is None
            and unit_id is MISSING
        ):
            out = fast(variables)
            return out if out.isascii() else text_output(out, variables)
        if unit_id is not MISSING:
            routed = self.get(ref, fallback=fallback, unit_id=unit_id)
            if routed.experiment is not None:
                ref = f"{routed.name}@{routed.version}"
        epoch = self._core.live_epoch
        entry = self._hot.get(ref)
        if entry is not None and entry.expires > self._now():
            fast = entry.fast
            if fast is not None and strict and variables is not None and not placeholders:
                self._core.promote(ref, entry, epoch)
                out = fast(variables)
                return out if out.isascii() else text_output(out, variables)
        if entry is not None and entry.expires > self._now() and entry.compiled is not None:
            return ClientCore.render_entry(
                entry.compiled,
                entry.is_chat,
                variables or EMPTY,
                placeholders,
                strict,
                prep=entry.prep,
            )
        return self._render_slow(ref, variables or EMPTY, placeholders, strict, fallback)

    if not TYPE_CHECKING:
        render = _render

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
        """Build a provider-neutral request, like ``vault.build`` (see
        :mod:`promptvault.client.fewshot`): locally from the cache when it can, so the warm
        path makes no network call; otherwise through ``POST /v1/prompts/{name}/build``."""
        return self._builds.build(
            ref,
            variables,
            unit_id=unit_id,
            examples=examples,
            history=history,
            placeholders=placeholders,
            now=now,
            strict=strict,
        )

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
            result = core.fallback(key, fallback, exc.reason)
            return result  # type: ignore[no-any-return]
        except NotFoundError as exc:
            return core.not_found(key, exc, fallback)  # type: ignore[no-any-return]
        core.store(ref, key, value, since=since)
        return value

    def _render_slow(
        self,
        ref: str,
        variables: Mapping[str, Any],
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
            return render_fallback(fallback, variables, placeholders)
        except NotFoundError as exc:
            key = core.key(ref)
            if fallback is MISSING or key not in core.changed:
                raise
            core.serve_gone(key, fallback, exc)  # removed by a change event: warned once
            return render_fallback(fallback, variables, placeholders)
        return ClientCore.render_entry(
            core.compiled_for(version),
            version.type == "chat",
            variables,
            placeholders,
            strict,
            prep=core.prep_for(version),
        )

    def _fetch(self, key: CacheKey, etag: str | None = None) -> PromptVersion:
        call = _api.resolve(key.name, label=key.label, version=key.version)
        headers = {"If-None-Match": f'"{etag}"'} if etag else None
        response = self._send(call, headers)
        if response.status_code == 304:
            raise NotModified
        return ClientCore.decode(call, response)  # type: ignore[no-any-return]

    def _refresh_in_background(self, key: CacheKey) -> None:
        if not self._core.begin_refresh(key):
            return
        thread = threading.Thread(
            target=self._refresh, args=(key,), name=f"promptvault-refresh-{key.name}", daemon=True
        )
        self._threads.add(thread)
        thread.start()

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
            self._threads.discard(threading.current_thread())

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
        core.store(None, key, value, since=since)

    # --- push -----------------------------------------------------------------------------

    @property
    def push_connected(self) -> bool:
        """Whether the change stream is open now (False: off, or polling until back)."""
        return self._push is not None and self._push.state.connected

    def _start_push(self) -> None:
        with self._push_lock:
            args, self._push_args = self._push_args, None
            if args is None:
                return
            api_key, transport = args
            http = httpx.Client(
                base_url=self._core.server, headers=auth_headers(api_key), transport=transport
            )
            state = PushState(self._core)
            state.cursor = self._push_cursor
            self._push = PushStream(http, state, self._push_refresh, timeout=self.timeout)
            thread = threading.Thread(target=self._follow, name="promptvault-push", daemon=True)
            self._push_thread = thread
            thread.start()

    def _follow(self) -> None:
        stream = self._push
        assert stream is not None
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
        core.store(None, key, value, since=since)

    def _stop_push(self) -> None:
        with self._push_lock:
            self._push_args = None
            stream = self._push
        if stream is None:
            return
        stream.state.stopped = True
        stream.stop_event.set()
        response = stream.response
        if response is not None:
            with contextlib.suppress(Exception):  # unblocks the thread's read
                response.close()
        self._push_thread.join(self.timeout)

    # --- HTTP -----------------------------------------------------------------------------

    def _send(self, call: Call[Any], headers: Mapping[str, str] | None = None) -> httpx.Response:
        """Send with one overall deadline; retry transient failures of idempotent calls."""
        deadline = time.monotonic() + self.timeout
        attempts = 1 + (self.retries if call.idempotent else 0)
        failure: Unavailable | None = None
        for attempt in range(attempts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    params=call.params or None,
                    json=call.json,
                    headers=headers,
                    timeout=remaining,
                )
            except httpx.HTTPError as exc:
                failure = Unavailable(transport_reason(exc))
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

    def _call(self, call: Call[T]) -> T:
        """Run a call whose failure is an error for the caller (writes, listings)."""
        try:
            return ClientCore.decode(call, self._send(call))  # type: ignore[no-any-return]
        except Unavailable as exc:
            raise ClientCore.unavailable_error(exc, call) from None

    # --- experiment events -------------------------------------------------------------------

    def record_outcome(self, experiment: str, unit_id: str, metric: str, value: float) -> bool:
        """Queue an outcome (sent in the background). A full buffer makes this wait for room
        (``event_block_timeout``); False when none came and the event was dropped."""
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

    # --- listings answered from the cache -------------------------------------------------

    def get_version(self, name: str, version: int) -> PromptVersion:
        """One version by number (also cached through ``get(f"{name}@{version}")``)."""
        return self.get(f"{name}@{version}")


_LIVE: weakref.WeakSet[PromptVaultClient] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_LIVE):
        client._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
