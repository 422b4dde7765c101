"""Push for the SDK cache, sans I/O: SSE parsing and what each change event does to the cache.

With ``push`` on, each client holds one ``GET /v1/stream`` open (a thread for the sync
client, a task for the async one; ``_push_async.py`` and the ``_push_sync.py`` generated
from it) and hands every event to :meth:`PushState.apply`:

* ``label.moved`` (and ``version.pushed`` for ``@latest``): the cached pointer is fetched
  again at once, so the next ``get`` answers the new version;
* ``label.removed``: the key is evicted from memory, last-known-good and disk, and
  remembered as gone: ``get`` raises ``LabelNotFound`` (or serves the caller's explicit
  ``fallback=`` with one warning) and never answers it from memory again;
* ``prompt.archived``: the same for every key of the prompt (``PromptNotFound``) until a
  ``prompt.unarchived`` event;
* ``experiment.*``: the cached routing of that prompt and label is dropped.

The warm ``get`` is untouched: an event changes entries in place (or marks them evicted, so
the hot path misses), exactly as a background refresh does. A value fetched before a
change but stored after it is discarded (:attr:`ClientCore.changed`), so a slow refresh
cannot bring back what an event replaced.

While the stream is down the cache keeps its TTL, so the client polls as without push;
the stream reconnects with jittered exponential backoff and resumes with
``Last-Event-ID``. A stream opened without a cursor (the first, or after the server lost
the client's place) revalidates every cached pointer once, since changes may have been
missed before it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from promptvault.client.cache import CacheKey
from promptvault.entities import ChangeEvent

__all__ = ["PushState", "SSEDecoder", "StreamEvent"]

log = logging.getLogger("promptvault.client")

# Read timeout of a stream: three of the server's 15 s heartbeats. A connection that went
# quiet longer than that is dead (no FIN reached us) and is replaced.
READ_TIMEOUT = 45.0
RECONNECT_BASE = 0.5
RECONNECT_CAP = 30.0


@dataclass(slots=True)
class StreamEvent:
    """One dispatched SSE event."""

    id: str | None
    event: str
    data: str


@dataclass
class SSEDecoder:
    """Lines of a ``text/event-stream`` in, events out (the WHATWG parsing rules)."""

    _data: list[str] = field(default_factory=list)
    _event: str = ""
    _id: str | None = None

    def feed(self, line: str) -> StreamEvent | None:
        """One line (without its end); an event when the line ends one."""
        if not line:
            if not self._data:
                self._event = ""
                return None
            out = StreamEvent(self._id, self._event or "message", "\n".join(self._data))
            self._data, self._event = [], ""
            return out
        if line.startswith(":"):
            return None  # a comment: the heartbeat
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def lines(self, lines: Iterator[str]) -> Iterator[StreamEvent]:
        """Events of an iterator of lines."""
        for line in lines:
            found = self.feed(line)
            if found is not None:
                yield found


class PushState:
    """The client side of one change stream: its cursor and what each event does."""

    def __init__(self, core: Any) -> None:
        self.core = core
        self.cursor: int | None = None  # the last event id applied
        self.attempt = 0
        self.connected = False
        self.unsupported = False  # the server has no /v1/stream: stay on TTL polling
        self.stopped = False

    def headers(self) -> dict[str, str]:
        """Request headers of a (re)connection."""
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if self.cursor is not None:
            headers["Last-Event-ID"] = str(self.cursor)
        return headers

    def opened(self) -> list[CacheKey]:
        """The stream is up: the keys to revalidate (all label pointers on a fresh start,
        none when resuming from a cursor, which replays what was missed)."""
        self.connected = True
        self.attempt = 0
        if self.cursor is not None:
            return []
        return [k for k in list(self.core.entries) if k.label is not None]

    def closed(self) -> None:
        """The stream dropped: the next reconnection waits a little longer."""
        self.connected = False
        self.attempt += 1

    def parse(self, message: StreamEvent) -> ChangeEvent | None:
        """The change event of an SSE event (None for anything else)."""
        try:
            event = ChangeEvent.model_validate(json.loads(message.data))
        except ValueError:
            log.warning("promptvault push: ignored an unreadable event %r", message.data[:200])
            return None
        return event

    def apply(self, event: ChangeEvent) -> list[CacheKey]:
        """Change the cache for ``event``; returns the keys to fetch again now."""
        core = self.core
        self.cursor = event.id
        payload = event.payload
        prompt = event.prompt
        if prompt is None:
            names = payload.get("prompts") if event.type == "registry.imported" else None
            return [k for k in list(core.entries) if names and k.name in names]
        label = payload.get("label")
        if event.type == "label.moved" and isinstance(label, str):
            key = CacheKey(core.server, prompt, label, None)
            core.changed_key(key)
            return [key, *self._including(key)] if core.knows(key) else self._including(key)
        if event.type == "version.pushed":
            key = CacheKey(core.server, prompt, "latest", None)
            core.changed_key(key)
            return [key] if core.knows(key) else []
        if event.type == "label.removed" and isinstance(label, str):
            core.remove_key(CacheKey(core.server, prompt, label, None))
            return []
        if event.type == "prompt.archived":
            core.archive_prompt(prompt)
            return []
        if event.type == "prompt.unarchived":
            core.archived.discard(prompt)
            return []
        if event.type.startswith("experiment.") and isinstance(label, str):
            forget = getattr(core, "forget_routing", None)
            if forget is not None:
                forget(prompt, label)
        return []

    def _including(self, key: CacheKey) -> list[CacheKey]:
        """Cached prompts that include ``key`` as a partial: fetched again too."""
        core = self.core
        out = []
        for other, entry in list(core.entries.items()):
            refs = entry.partial_refs
            if refs and any(core.key(ref) == key for ref in refs):
                out.append(other)
        return out
