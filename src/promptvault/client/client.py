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

What the two clients share is written once (``_client_async.py``, the sync copy generated
into ``_client_sync.py``); this module holds what only the sync client does: background
work in threads, the warm render path, partials fetched as they are needed, and closing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from promptvault.client._api import Call
from promptvault.client._client_sync import ClientBase
from promptvault.client._core import EMPTY, MISSING, ClientCore, partial_template
from promptvault.client.cache import CacheKey
from promptvault.client.experiments import ClientExperiments
from promptvault.client.fewshot import LocalBuilds
from promptvault.entities import PromptVersion, text_output
from promptvault.integrations.otel import instrument

if TYPE_CHECKING:
    from promptvault.fewshot.examples_for_build import Selection

__all__ = ["PromptVaultClient"]

T = TypeVar("T")


class PromptVaultClient(ClientBase):
    """Synchronous SDK client; safe to share between threads.

    ``transport`` replaces the network (an ``httpx`` transport: tests, in-process apps);
    ``clock`` replaces ``time.monotonic`` for the cache's notion of time. ``push`` follows
    the server's change stream (default: on when caching is on and no ``transport`` is
    given; off by itself against a server without ``/v1/stream``).
    """

    experiments: ClientExperiments

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
        self._threads: set[threading.Thread] = set()
        self._push_lock = threading.Lock()
        super().__init__(
            base_url, api_key, cache_ttl, timeout, fallback_dir, transport, clock, retries, push
        )
        self._live = self._core.live  # the warm render path (see ``_render``)
        self.experiments = ClientExperiments(
            self,
            batch_size=event_batch_size,
            interval=event_interval,
            max_buffer=event_buffer,
            block_timeout=event_block_timeout,
        )
        self._core.forget_routing = self.experiments.forget
        self._builds = LocalBuilds(self, self._core, self._builder)
        self._track_forks()
        instrument(self)  # spans for get/render/build, only with OpenTelemetry installed

    def _after_fork(self) -> None:
        # The parent's threads are gone and its locks may have been held by them.
        self._threads = set()
        self._push_lock = threading.Lock()
        self._builds.after_fork()
        super()._after_fork()

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
        # CPython, hence this positional runtime ``render`` behind the typed one.
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
            ref = self._routed(ref, fallback, unit_id)
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
        return self._render_slow(ref, variables, placeholders, strict, fallback)

    if not TYPE_CHECKING:
        render = _render

    def _local_examples(
        self, version: PromptVersion, variables: Any, examples: str | Mapping[str, Any]
    ) -> Selection | None:
        return self._builds.select(version, variables, examples)

    def get_version(self, name: str, version: int) -> PromptVersion:
        """One version by number (also cached through ``get(f"{name}@{version}")``)."""
        return self.get(f"{name}@{version}")

    # --- background work: threads ---------------------------------------------------------

    def _off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args)  # the calling thread may wait for the disk

    def _refresh_in_background(self, key: CacheKey) -> None:
        if not self._core.begin_refresh(key):
            return
        thread = threading.Thread(
            target=self._refresh_in_thread,
            args=(key,),
            name=f"promptvault-refresh-{key.name}",
            daemon=True,
        )
        self._threads.add(thread)
        thread.start()

    def _refresh_in_thread(self, key: CacheKey) -> None:
        try:
            self._refresh(key)
        finally:
            self._threads.discard(threading.current_thread())

    def _start_push(self) -> None:
        with self._push_lock:
            args, self._push_args = self._push_args, None
            if args is None:
                return
            stream = self._new_push(*args)
            thread = threading.Thread(
                target=self._follow, args=(stream,), name="promptvault-push", daemon=True
            )
            self._push_thread = thread
            thread.start()

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

    def _request(
        self, call: Call[Any], headers: Mapping[str, str] | None, timeout: float
    ) -> httpx.Response:
        params = call.params or None
        return self._http.request(
            call.method, call.path, params=params, json=call.json, headers=headers, timeout=timeout
        )
