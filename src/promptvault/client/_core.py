"""What the sync and async clients share: cache state, HTTP answer handling, compile cache.

Nothing here does I/O on the network; the clients send the requests and hand the answers in.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from promptvault.client._api import Call
from promptvault.client.cache import NEVER, CacheKey, DiskStore, _Entry, parse_ref
from promptvault.client.expiry import TIMER
from promptvault.entities import PromptVersion, text_output
from promptvault.errors import (
    InvalidInputError,
    LabelNotFound,
    PromptNotFound,
    PromptUnavailable,
    PromptVaultError,
    error_from_payload,
)
from promptvault.templating import compile_chat, compile_template
from promptvault.templating.builtins import Builtins
from promptvault.templating.variables import (
    DataChecker,
    DefaultsFiller,
    data_checker,
    defaults_filler,
    integer_too_long_error,
)

__all__ = [
    "EMPTY",
    "MAX_PARTIAL_FETCHES",
    "MISSING",
    "ClientCore",
    "DataPrep",
    "NeedPartial",
    "NotModified",
    "Unavailable",
    "auth_headers",
    "backoff_delay",
    "data_prep",
    "diff_args",
    "partial_template",
    "render_fallback",
]

log = logging.getLogger("promptvault.client")

MISSING: Any = object()
EMPTY: Mapping[str, Any] = {}

# After a failed refresh, the stale value is served for this long before the next attempt,
# so a dead server costs one background request per key per second, not one per call.
RETRY_AFTER = 1.0
_TRANSIENT_STATUS = frozenset({429, 502, 503, 504})


class Unavailable(Exception):
    """Internal: the server could not answer (network, timeout, 5xx). Never escapes."""

    def __init__(self, reason: str, *, status: int | None = None, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retryable = retryable


def backoff_delay(attempt: int, *, base: float = 0.05, cap: float = 1.0) -> float:
    """Exponential backoff with full jitter: attempt 0 waits up to ``base``, then doubles."""
    return random.uniform(0, min(cap, base * (2**attempt)))


# Tags that pull in other templates: mustache partials, parents and delimiter changes (which
# could hide a partial tag), Jinja include/import/extends. Over-matching only costs a
# recompile per TTL.
_INCLUDES = re.compile(r"\{\{\s*[>=<]|\{%-?\s*(?:include|import|from|extends)\b")


def uses_partials(version: PromptVersion) -> bool:
    """Whether a version's template may include other prompts."""
    template = version.template
    if isinstance(template, str):
        return _INCLUDES.search(template) is not None
    return any(
        isinstance(m.get("content"), str) and _INCLUDES.search(m["content"]) is not None
        for m in template
    )


def compile_version(
    version: PromptVersion, partials: Callable[[str], str | None] | None = None
) -> Any:
    """The compiled text or chat template of ``version``.

    ``partials`` resolves ``{{> other@label}}`` at render time (the engine asks on every
    render, so a partial whose label moves is picked up through the client's cache).
    """
    if version.type == "chat" or not isinstance(version.template, str):
        template = version.template
        messages = [dict(m) for m in template] if isinstance(template, list) else []
        return compile_chat(messages, syntax=version.syntax, partials=partials)
    return compile_template(version.template, syntax=version.syntax, partials=partials)


class DataPrep:
    """What a version's variables schema does to render data, as the server does it: the
    caller's values are checked against the schema, then declared defaults fill the gaps."""

    __slots__ = ("check", "defaults")

    def __init__(self, check: DataChecker | None, defaults: DefaultsFiller | None) -> None:
        self.check = check
        self.defaults = defaults

    def apply(self, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        """The data to render with (raises InvalidInputError on a value the schema refuses)."""
        if self.check is not None:
            self.check(variables)
        return self.defaults(variables) if self.defaults is not None else variables

    def bind(self, render: Callable[[Mapping[str, Any]], Any]) -> Callable[[Any], Any]:
        """``render`` preceded by :meth:`apply`: the warm path's one positional call."""
        apply = self.apply

        def fast(variables: Mapping[str, Any]) -> Any:
            return render(apply(variables))

        return fast


def data_prep(version: PromptVersion) -> DataPrep | None:
    """The version's :class:`DataPrep`, or None when its schema checks and fills nothing."""
    check = data_checker(version.variables_schema)
    defaults = defaults_filler(version.variables_schema, syntax=version.syntax)
    if check is None and defaults is None:
        return None
    return DataPrep(check, defaults)


class ClientCore:
    """Cache, fallbacks and answer decoding, shared by both clients."""

    def __init__(
        self,
        base_url: str,
        *,
        cache_ttl: float,
        fallback_dir: str | None,
        clock: Callable[[], float] | None,
    ) -> None:
        self.server = base_url.rstrip("/")
        self.cache_ttl = float(cache_ttl)
        self.enabled = self.cache_ttl > 0
        self.now: Callable[[], float] = clock or time.monotonic
        self.disk = DiskStore(fallback_dir) if fallback_dir is not None else None
        # Typed map: the source of truth for what is cached.
        self.entries: dict[CacheKey, _Entry] = {}
        # Memo from the caller's reference string to the shared entry: the hot path.
        self.hot: dict[str, _Entry] = {}
        # Last known good per key, kept even when caching is off, for the never-fail path.
        self.last_good: dict[CacheKey, PromptVersion] = {}
        # The warm render path: reference string -> the fast renderer of a fresh entry, so
        # a call reads no clock. The expiry timer drops each one when its entry's TTL ends
        # and any change to a cached entry drops them all (``live_epoch`` stops a renderer
        # read before the change from coming back). A caller's own clock (tests) keeps it
        # empty: then every call compares times.
        self.live: dict[str, Callable[[Any], Any]] = {}
        self.live_epoch = 0
        self._timed = clock is None
        self.compiled: dict[str, Any] = {}
        self.preps: dict[str, DataPrep | None] = {}
        self.refreshing: set[CacheKey] = set()
        self.lock = threading.Lock()
        # Set by the client: how a template's partials (other prompts) are looked up.
        self.partials: Callable[[str], str | None] | None = None
        # Push (client/push.py): which keys a change event touched, and when (a value
        # fetched before that is stale on arrival); labels removed and prompts archived
        # (never answered from memory again); keys whose fallback was served, warned once.
        self.generation = 0
        self.changed: dict[CacheKey, int] = {}
        self.gone: dict[CacheKey, float] = {}
        self.archived: set[str] = set()
        self.warned: set[CacheKey] = set()
        self.forget_routing: Callable[[str, str], None] | None = None

    # --- keys and entries -------------------------------------------------------------

    def key(self, ref: str) -> CacheKey:
        """The typed key for a reference string."""
        return parse_ref(self.server, ref)

    def compiled_for(self, version: PromptVersion) -> Any:
        """The compiled template for a version, compiled once per content hash.

        A template with partials is compiled afresh: the engine keeps the partials it
        looked up, and they are other prompts whose labels move.
        """
        if uses_partials(version):
            return self.compile_with_partials(version)[0]
        compiled = self.compiled.get(version.hash)
        if compiled is None:
            compiled = compile_version(version)
            self.compiled[version.hash] = compiled
        return compiled

    def prep_for(self, version: PromptVersion) -> DataPrep | None:
        """The version's schema handling, built once per content hash."""
        try:
            return self.preps[version.hash]
        except KeyError:
            prep = self.preps[version.hash] = data_prep(version)
            return prep

    def compile_with_partials(self, version: PromptVersion) -> tuple[Any, set[str]]:
        """Compile with a partial source that records which prompts get included."""
        refs: set[str] = set()
        source = self.partials

        def recording(ref: str) -> str | None:
            refs.add(ref.strip())
            return source(ref) if source is not None else None

        return compile_version(version, recording), refs

    def try_compile(self, version: PromptVersion) -> tuple[Any, set[str] | None]:
        """(compiled, partial refs or None), compiled None when it does not compile here:
        ``get`` must still work, and ``render`` then reports the error from its slow path."""
        try:
            if uses_partials(version):
                return self.compile_with_partials(version)
            return self.compiled_for(version), None
        except Exception:  # any compile failure is re-raised by render, never by get
            return None, None

    def recompile(self, entry: _Entry) -> None:
        """Compile an entry with partials again so their current versions are used."""
        compiled, refs = self.try_compile(entry.value)
        entry.set_compiled(entry.value, compiled, refs, prep=self.prep_for(entry.value))
        self.drop_live()

    # --- the warm render path -----------------------------------------------------------

    def promote(self, ref: str, entry: _Entry, epoch: int) -> None:
        """Serve ``ref`` from :attr:`live` until ``entry`` expires.

        ``epoch`` is :attr:`live_epoch` as read before ``entry`` was found fresh: if an
        entry changed since, its renderer may be the old one and is not kept.
        """
        fast, expires = entry.fast, entry.expires
        if not self._timed or fast is None:
            return
        with self.lock:
            if epoch != self.live_epoch:
                return
            self.live[ref] = fast
        if expires != NEVER:
            TIMER.call_at(expires, self._expire, ref, fast)

    def _expire(self, ref: str, fast: Callable[[Any], Any]) -> None:
        # No lock: dropping is always safe, and this also runs in a forked child.
        if self.live.get(ref) is fast:
            self.live.pop(ref, None)

    def drop_live(self) -> None:
        """A cached entry changed: every call goes through the timed path until promoted."""
        with self.lock:
            self.live_epoch += 1
            self.live.clear()

    def store(
        self, ref: str | None, key: CacheKey, value: PromptVersion, *, since: int | None = None
    ) -> _Entry | None:
        """Record a fresh answer: memory cache (when enabled), last good, and disk.

        ``since`` is :attr:`generation` when the fetch began: an answer fetched before a
        change event touched ``key`` is dropped (the event's own fetch is newer).
        """
        if since is not None and (self.changed.get(key, 0) > since or key.name in self.archived):
            return None
        self.gone.pop(key, None)
        previous = self.last_good.get(key)
        self.last_good[key] = value
        if self.disk is not None and (previous is None or previous.hash != value.hash):
            # A full or read-only disk must not break a successful fetch.
            with contextlib.suppress(OSError):
                self.disk.save(key, value)
        if not self.enabled:
            return None
        compiled, refs = self.try_compile(value)
        # Every entry is revalidated once per TTL, a pinned version too: its content never
        # changes (the refresh is a 304), but its prompt may be archived, and included
        # prompts can move under it.
        expires = self.now() + self.cache_ttl
        entry = self.entries.get(key)
        prep = self.prep_for(value)
        if entry is None:
            entry = _Entry(key, value, expires, compiled, prep)
            entry.partial_refs = refs
            self.entries[key] = entry
        else:
            entry.set_compiled(value, compiled, refs, prep=prep)
            entry.value = value
            entry.expires = expires
            self.drop_live()
        if ref is not None:
            self.hot[ref] = entry
        return entry

    def evict(self, key: CacheKey) -> None:
        """Forget ``key`` everywhere: memory, last good and disk."""
        entry = self.entries.pop(key, None)
        if entry is not None:
            entry.evict()
            self.drop_live()
        self.last_good.pop(key, None)
        if self.disk is not None:
            self.disk.delete(key)

    def invalidate(self, key: CacheKey) -> None:
        """A write through this client changed ``key``: the next read goes to the server.

        The last known good value stays, so a read during an outage still has an answer.
        """
        entry = self.entries.pop(key, None)
        if entry is not None:
            entry.evict()
            self.drop_live()

    def invalidate_prompt(self, name: str) -> None:
        """Every key of one prompt (archive): compared as typed fields, not string prefixes."""
        for key in [k for k in self.entries if k.name == name]:
            self.invalidate(key)

    # --- push: what change events did --------------------------------------------------

    def changed_key(self, key: CacheKey) -> int:
        """An event changed ``key``: answers fetched before now are stale."""
        self.generation += 1
        self.changed[key] = self.generation
        self.gone.pop(key, None)
        return self.generation

    def knows(self, key: CacheKey) -> bool:
        """Whether ``key`` is cached (fresh or as last known good)."""
        return key in self.entries or key in self.last_good

    def remove_key(self, key: CacheKey) -> None:
        """The label was removed: evict it everywhere and refuse to serve it from memory."""
        self.changed_key(key)
        self.evict(key)
        self.gone[key] = NEVER
        if self.forget_routing is not None and key.label is not None:
            self.forget_routing(key.name, key.label)

    def archive_prompt(self, name: str) -> None:
        """The prompt was archived: every key of it is evicted and refused from memory."""
        self.archived.add(name)
        for key in {k for k in (*self.entries, *self.last_good) if k.name == name}:
            self.changed_key(key)
            self.evict(key)

    def gone_error(self, key: CacheKey) -> PromptVaultError | None:
        """The error for a key a change event removed (None: not removed)."""
        if key.name in self.archived:
            return PromptNotFound(
                f"prompt {key.name!r} was archived",
                details={"name": key.name, "archived": True},
            )
        until = self.gone.get(key)
        if until is None or until <= self.now():
            return None
        return LabelNotFound(
            f"label {key.label!r} of {key.name!r} was removed",
            details={"name": key.name, "label": key.label, "removed": True},
        )

    def serve_gone(self, key: CacheKey, fallback: Any, error: PromptVaultError) -> Any:
        """The caller's explicit fallback for a removed key (warned once), else raise."""
        if fallback is MISSING:
            raise error
        if key not in self.warned:
            self.warned.add(key)
            log.warning("%s: serving the caller's fallback", error.message)
        return fallback

    def not_found(self, key: CacheKey, error: PromptVaultError, fallback: Any) -> Any:
        """The server says ``key`` does not exist: for a key known to be removed, the
        caller's fallback (warned once), else the error. The answer is remembered for one
        TTL so a removed label costs no request per call."""
        if key in self.changed:  # an event this client saw touched it: it was removed
            self.gone[key] = self.now() + self.cache_ttl
            return self.serve_gone(key, fallback, error)
        raise error

    def fallback(self, key: CacheKey, fallback: Any, reason: str) -> Any:
        """Last known good from memory, then disk, then the caller's value, else raise."""
        removed = self.gone_error(key)
        if removed is not None:  # never a copy of what a change event removed
            return self.serve_gone(key, fallback, removed)
        value = self.last_good.get(key)
        if value is None and self.disk is not None:
            value = self.disk.load(key)
            if value is not None:
                self.last_good[key] = value
        if value is not None:
            if self.enabled:
                # Serve it as a stale entry so later calls do not block on the dead server.
                entry = self.store_stale(key, value)
                entry.expires = self.now() + min(self.cache_ttl, RETRY_AFTER)
            return value
        if fallback is not MISSING:
            return fallback
        raise PromptUnavailable(
            f"{key.ref()} is unavailable: {reason}; no cached, on-disk or fallback copy",
            details={"ref": key.ref(), "server": self.server, "reason": reason},
        )

    def store_stale(self, key: CacheKey, value: PromptVersion) -> _Entry:
        """Put a value known to be old in the memory cache (no disk write)."""
        entry = self.entries.get(key)
        if entry is None:
            compiled, refs = self.try_compile(value)
            entry = _Entry(key, value, 0.0, compiled, self.prep_for(value))
            entry.partial_refs = refs
            self.entries[key] = entry
        return entry

    def after_fork(self) -> None:
        """In a forked child: new locks (the parent's may have been held by a thread that
        did not survive the fork), no refreshes in flight, and every reference through
        the slow path once, which is where the client starts its own change stream."""
        self.lock = threading.Lock()
        self.refreshing = set()
        self.live_epoch += 1
        self.live.clear()
        self.hot.clear()

    def begin_refresh(self, key: CacheKey) -> bool:
        """Claim the one background refresh allowed per key; False when one is running."""
        with self.lock:
            if key in self.refreshing:
                return False
            self.refreshing.add(key)
            return True

    def end_refresh(self, key: CacheKey) -> None:
        """Release the refresh claim."""
        with self.lock:
            self.refreshing.discard(key)

    def refresh_failed(self, key: CacheKey) -> None:
        """Keep serving the stale value; try again after a short pause."""
        entry = self.entries.get(key)
        if entry is not None:
            entry.expires = self.now() + min(self.cache_ttl, RETRY_AFTER)

    # --- rendering ----------------------------------------------------------------------

    @staticmethod
    def render_entry(
        compiled: Any,
        is_chat: bool,
        variables: Mapping[str, Any],
        placeholders: Any,
        strict: bool,
        *,
        prep: DataPrep | None = None,
    ) -> Any:
        """Render a compiled text or chat template as the server does: schema first."""
        if prep is not None:
            variables = prep.apply(variables)
        variables = _BUILTINS.add(variables)  # now and today, as on the server
        if placeholders and not is_chat:
            raise InvalidInputError(
                "placeholders only apply to chat prompts", details={"field": "placeholders"}
            )
        try:
            if is_chat:
                out = compiled.render(variables, placeholders=placeholders, strict=strict)
                return text_output(out, variables, placeholders)
            return text_output(compiled.render(variables, strict=strict), variables)
        except ValueError as err:  # str() refused an integer of more than 4,300 digits
            raise integer_too_long_error(variables) or err from None

    # --- answers ------------------------------------------------------------------------

    @staticmethod
    def decode(call: Call[Any], response: httpx.Response) -> Any:
        """The parsed answer, or the rebuilt promptvault error, or :class:`Unavailable`."""
        status = response.status_code
        if status < 300:
            if call.text:
                return call.parse(response.text)
            if status == 204 or not response.content:
                return call.parse(None)
            return call.parse(response.json())
        body: Any = None
        try:
            body = response.json()
        except ValueError:
            body = None
        if status >= 500 or status in _TRANSIENT_STATUS:
            error = body.get("error") if isinstance(body, dict) else None
            error = error if isinstance(error, dict) else {}
            code, message = error.get("code"), error.get("message")
            # The server's message says why ("the database's disk is full: ..."): keep it.
            raise Unavailable(
                f"server answered {status}"
                + (f" ({code})" if code else "")
                + (f": {message}" if isinstance(message, str) and message else ""),
                status=status,
            )
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            raise error_from_payload(body)
        raise PromptVaultError(
            f"server answered {status} {response.reason_phrase}",
            details={"status": status},
        )

    @staticmethod
    def unavailable_error(exc: Unavailable, call: Call[Any]) -> PromptUnavailable:
        """The public error for a call that could not be answered."""
        return PromptUnavailable(
            f"{call.method} {call.path}: {exc.reason}",
            details={"path": call.path, "reason": exc.reason, "status": exc.status},
        )


def transport_reason(exc: httpx.HTTPError) -> str:
    """A short reason for a network-level failure."""
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# An idle connection is dropped well before the server's keep-alive timeout (5 s by
# default in ``promptvault serve``): with equal timeouts a request can be written on a
# connection the server is closing at that moment and fail with a read error, which a
# write (not retried) would report to the caller.
HTTP_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=2.0)


def auth_headers(api_key: str | None) -> dict[str, str]:
    """Request headers carrying the API key."""
    headers = {"Accept": "application/json", "User-Agent": "promptvault-sdk"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


# The SDK renders in-process with the server's default zone (Settings.timezone is UTC).
_BUILTINS = Builtins("UTC")


def render_fallback(fallback: Any, variables: Mapping[str, Any], placeholders: Any) -> Any:
    """Render the caller's fallback: a PromptVersion, a text template or chat messages."""
    prep = None
    if isinstance(fallback, PromptVersion):
        compiled = compile_version(fallback)
        is_chat = fallback.type == "chat"
        prep = data_prep(fallback)
    elif isinstance(fallback, str):
        compiled, is_chat = compile_template(fallback), False
    else:
        compiled, is_chat = compile_chat([dict(m) for m in fallback]), True
    return ClientCore.render_entry(compiled, is_chat, variables, placeholders, True, prep=prep)


class NotModified(Exception):
    """Internal: a conditional refresh found the cached version still current."""


# How many missing partials one async render or build fetches before giving up: the
# engine's own partial depth limit.
MAX_PARTIAL_FETCHES = 32


class NeedPartial(Exception):
    """Internal (async client): a partial is not cached yet; fetch it and render again."""

    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


def partial_template(ref: str, version: PromptVersion) -> str:
    """A partial's source: only text prompts can be included."""
    if not isinstance(version.template, str):
        raise InvalidInputError(
            f"partial {ref!r} is a chat prompt; only text prompts can be included",
            details={"field": "template", "partial": ref},
        )
    return version.template


def diff_args(server: str, a: str, b: str) -> tuple[str, str, str]:
    """The prompt name and the ``from``/``to`` query values for diffing two references."""
    ka, kb = parse_ref(server, a), parse_ref(server, b)
    frm = str(ka.version) if ka.version is not None else str(ka.label)
    if kb.name != ka.name:
        return ka.name, frm, b
    to = str(kb.version) if kb.version is not None else str(kb.label)
    return ka.name, frm, to
