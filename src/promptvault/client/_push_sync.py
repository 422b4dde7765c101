# Generated from _push_async.py by scripts/unasync.py: do not edit, change the source and
# run `python scripts/unasync.py`.
"""The sync client's change stream: one ``GET /v1/stream`` kept open in the background.

Generated from ``_push_async.py`` (the hand-written source) by
``scripts/unasync.py`` (CI runs it with ``--check``); the sync client runs it in a thread.
What each event does to the cache is sans I/O, in :mod:`promptvault.client.push`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from promptvault.client._core import backoff_delay
from promptvault.client.cache import CacheKey
from promptvault.client.push import (
    READ_TIMEOUT,
    RECONNECT_BASE,
    RECONNECT_CAP,
    PushState,
    SSEDecoder,
    log,
)

__all__ = ["PushStream"]

# A key's refresh after an event: fetch it now and store it (the client's own code).
Refresh = Callable[[CacheKey, int], None]


class PushStream:
    """Keeps the stream open and applies its events until :meth:`stop`."""

    def __init__(
        self,
        http: httpx.Client,
        state: PushState,
        refresh: Refresh,
        *,
        timeout: float,
        prefix: str | None = None,
    ) -> None:
        self.http = http
        self.state = state
        self.refresh = refresh
        self.timeout = httpx.Timeout(timeout, read=READ_TIMEOUT)
        self.params = {"prefix": prefix} if prefix else {}
        self.response: Any = None
        self.stop_event = threading.Event()  # set by the client's close

    def run(self) -> None:
        """Connect, apply, reconnect with jittered backoff; return when stopped or when
        the server offers no stream."""
        state = self.state
        while not state.stopped:
            try:
                self._follow()
            except (httpx.HTTPError, OSError) as exc:
                if state.connected:
                    log.info("promptvault push: stream lost (%s); polling until back", exc)
            finally:
                self.response = None
            if state.unsupported or state.stopped:
                return
            state.closed()
            self.pause(backoff_delay(state.attempt, base=RECONNECT_BASE, cap=RECONNECT_CAP))

    def pause(self, seconds: float) -> None:
        """Wait before reconnecting (the sync copy returns early when stopped)."""
        self.stop_event.wait(seconds)

    def _follow(self) -> None:
        state = self.state
        with self.http.stream(
            "GET",
            "/v1/stream",
            params=self.params,
            headers=state.headers(),
            timeout=self.timeout,
        ) as response:
            self.response = response
            if response.status_code == 404:
                state.unsupported = True
                log.info("promptvault push: the server has no /v1/stream; using TTL polling")
                return
            if response.status_code != 200:
                log.warning("promptvault push: /v1/stream answered %d", response.status_code)
                return
            for key in state.opened():
                self.refresh(key, state.core.changed_key(key))
            decoder = SSEDecoder()
            for line in response.iter_lines():
                if state.stopped:
                    return
                message = decoder.feed(line)
                if message is None:
                    continue
                event = state.parse(message)
                if event is None:
                    continue
                for key in state.apply(event):
                    self.refresh(key, state.core.generation)
