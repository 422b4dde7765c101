"""Experiment routing and events of the async SDK client, for both clients.

This is the hand-written source; ``_routing_sync.py`` is generated from it by
``scripts/unasync.py`` (CI runs it with ``--check``), so the two clients cannot drift.
What differs stays in each client's own module: the event queue's options, and whether
a background lookup runs in a thread or a task (``_refresh_later``). The values and calls
are sans I/O, in :mod:`promptvault.client._routing`.
"""

from __future__ import annotations

import threading
from typing import Any

from promptvault.client._event_buffer import FlushResult
from promptvault.client._routing import (
    RETRY_AFTER,
    RunningEntry,
    batch_call,
    exposure_event,
    outcome_event,
    running_call,
    send_failed,
    variant_version,
)
from promptvault.client.events_async import AsyncEventQueue
from promptvault.entities import PromptVersion
from promptvault.errors import PromptVaultError
from promptvault.experiments.models import Experiment

__all__ = ["AsyncExperimentRouting"]


class AsyncExperimentRouting:
    """Assigns units through the experiment running on a label, and queues their events.

    The running experiment of each (prompt, label) is looked up once, kept for the client's
    ``cache_ttl`` and looked up again in the background; an unreachable server means no
    experiment for now, never a failed request.
    """

    def __init__(self, client: Any, **queue_options: Any) -> None:
        """``queue_options``: the event queue's (batch size, interval, buffer...)."""
        self._client = client
        self._core = client._core
        self.events = AsyncEventQueue(
            self._send_batch, timeout=max(1.0, float(client.timeout)), **queue_options
        )
        self._running: dict[tuple[str, str], RunningEntry] = {}
        self._refreshing: set[tuple[str, str]] = set()
        self._lock = threading.Lock()  # background lookups may run in other threads

    def forget(self, prompt: str, label: str) -> None:
        """A change event touched this prompt's label: route afresh on the next call."""
        self._running.pop((prompt, label), None)

    def after_fork(self) -> None:
        """In a forked child: a new lock, no lookups in flight, an empty event queue."""
        self._lock = threading.Lock()
        self._refreshing = set()
        self.events.after_fork()

    def _refresh_later(self, key: tuple[str, str]) -> None:
        raise NotImplementedError  # in a thread or a task, as the client runs

    # --- routing ---------------------------------------------------------------------

    async def _load(self, prompt: str, label: str) -> Experiment | None:
        found = await self._client._call(running_call(prompt, label))
        return found[0] if found else None

    async def _refresh(self, key: tuple[str, str]) -> None:
        try:
            found = await self._load(*key)
        except PromptVaultError:
            entry = self._running.get(key)
            if entry is not None:
                entry.expires = self._core.now() + min(self._core.cache_ttl, RETRY_AFTER)
        else:
            self._running[key] = RunningEntry(found, self._core.now() + self._core.cache_ttl)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    async def _route_for(self, prompt: str, label: str) -> RunningEntry:
        key = (prompt, label)
        entry = self._running.get(key)
        now = self._core.now()
        if entry is None:
            try:
                entry = RunningEntry(await self._load(prompt, label), now + self._core.cache_ttl)
            except PromptVaultError:  # unreachable: no experiment for now, ask again soon
                entry = RunningEntry(None, now + RETRY_AFTER)
            self._running[key] = entry
        elif entry.expires <= now:
            with self._lock:
                start = key not in self._refreshing
                self._refreshing.add(key)
            if start:
                self._refresh_later(key)
        return entry

    async def route(self, found: PromptVersion, unit_id: Any) -> PromptVersion:
        """``found`` as ``unit_id`` sees it through the running experiment, if any."""
        label = found.resolved_label
        if label is None:
            return found
        entry = await self._route_for(found.name, label)
        exp = entry.experiment
        if exp is None:
            return found
        variant = exp.assigner().variant(unit_id)
        if variant is None:
            return found
        result = entry.versions.get(variant)
        if result is None:
            chosen = exp.variant(variant)
            assert chosen is not None
            try:
                pinned = await self._client.get(f"{found.name}@{chosen.version}")
            except PromptVaultError:  # the variant cannot be fetched: serve the label
                return found
            result = variant_version(found, exp, variant, pinned)
            entry.versions[variant] = result
        self.events.add(exposure_event(exp.name, unit_id, variant))
        return result

    async def running(self, prompt: str, label: str | None = None) -> list[Experiment]:
        """Running experiments of a prompt."""
        return await self._client._call(running_call(prompt, label))  # type: ignore[no-any-return]

    # --- events ----------------------------------------------------------------------

    def record_exposure(
        self, experiment: str, unit_id: str | None, *, variant: str | None = None
    ) -> bool:
        """Queue an exposure; False when it was dropped (see :meth:`record_outcome`)."""
        return self.events.add(exposure_event(experiment, unit_id, variant))

    def record_outcome(self, experiment: str, unit_id: str, metric: str, value: float) -> bool:
        """Queue an outcome (0/1 for binary metrics); False when it was dropped: the buffer
        was full (the sync client first waits for room) or the client was closed."""
        return self.events.add(outcome_event(experiment, unit_id, metric, value))

    @property
    def dropped(self) -> int:
        """Events lost so far: no room in the buffer, or recorded after close."""
        return self.events.dropped

    async def flush(self) -> FlushResult:
        """Send queued events now: events sent and lost since the last flush, and waiting."""
        return await self.events.settle()

    async def _send_batch(self, key: str, events: list[dict[str, Any]], dropped: int = 0) -> Any:
        from promptvault.client._core import ClientCore, Unavailable

        call = batch_call(key, events, dropped)
        try:
            return ClientCore.decode(call, await self._client._send(call))
        except (Unavailable, PromptVaultError) as exc:
            raise send_failed(exc) from None
