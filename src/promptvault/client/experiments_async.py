"""Experiments in the async SDK: local assignment and buffered events, as in the sync SDK.

``await pv.get("support", unit_id="u42")`` resolves the reference, looks up the experiment
running on its label (cached for ``cache_ttl``, refreshed by a background task), assigns
locally, returns the variant's version with ``experiment``/``variant`` set and queues an
exposure. Outcomes are queued with :meth:`AsyncClientExperiments.record_outcome`; events go
out in batches (:mod:`promptvault.client.events_async`). An unreachable server never breaks
a request: the unit then gets the label's version.
"""

from __future__ import annotations

import asyncio
from typing import Any

from promptvault.client.events import FlushResult
from promptvault.client.events_async import AsyncEventQueue
from promptvault.client.experiments import (
    RETRY_AFTER,
    ClientExperiments,
    RunningEntry,
    batch_call,
    exposure_event,
    outcome_event,
    send_failed,
    variant_version,
)
from promptvault.entities import PromptVersion
from promptvault.errors import PromptVaultError
from promptvault.experiments.models import Experiment

__all__ = ["AsyncClientExperiments"]


class AsyncClientExperiments:
    """The experiment side of :class:`~promptvault.client.AsyncPromptVaultClient`."""

    def __init__(
        self,
        client: Any,
        *,
        batch_size: int = 500,
        interval: float = 1.0,
        max_buffer: int = 10_000,
    ) -> None:
        self._client = client
        self._core = client._core
        self.events = AsyncEventQueue(
            self._send_batch,
            batch_size=batch_size,
            interval=interval,
            max_buffer=max_buffer,
            timeout=max(1.0, float(client.timeout)),
        )
        self._running: dict[tuple[str, str], RunningEntry] = {}
        self._refreshing: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def forget(self, prompt: str, label: str) -> None:
        """A change event touched this prompt's label: route afresh on the next call."""
        self._running.pop((prompt, label), None)

    def after_fork(self) -> None:
        """In a forked child: no refreshes in flight, an empty event queue."""
        self._refreshing = set()
        self.events.after_fork()

    async def _load(self, prompt: str, label: str) -> Experiment | None:
        found = await self._client._call(ClientExperiments.running_call(prompt, label))
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
            self._refreshing.discard(key)

    async def _route_for(self, prompt: str, label: str) -> RunningEntry:
        key = (prompt, label)
        entry = self._running.get(key)
        now = self._core.now()
        if entry is None:
            try:
                entry = RunningEntry(await self._load(prompt, label), now + self._core.cache_ttl)
            except PromptVaultError:
                entry = RunningEntry(None, now + RETRY_AFTER)
            self._running[key] = entry
        elif entry.expires <= now and key not in self._refreshing:
            self._refreshing.add(key)
            task = asyncio.get_running_loop().create_task(self._refresh(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
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
            except PromptVaultError:
                return found
            result = variant_version(found, exp, variant, pinned)
            entry.versions[variant] = result
        self.events.add(exposure_event(exp.name, unit_id, variant))
        return result

    def record_exposure(
        self, experiment: str, unit_id: str | None, *, variant: str | None = None
    ) -> bool:
        """Queue an exposure; False when the buffer was full and it was dropped."""
        return self.events.add(exposure_event(experiment, unit_id, variant))

    def record_outcome(self, experiment: str, unit_id: str, metric: str, value: float) -> bool:
        """Queue an outcome (0/1 for binary metrics); False when it was dropped."""
        return self.events.add(outcome_event(experiment, unit_id, metric, value))

    @property
    def dropped(self) -> int:
        """Events lost so far: the buffer was full, or recorded after close."""
        return self.events.dropped

    async def flush(self) -> FlushResult:
        """Send queued events now: events sent and lost since the last flush, and waiting."""
        return await self.events.settle()

    async def aclose(self) -> None:
        """Send what is left and stop the background task."""
        await self.events.aclose()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _send_batch(self, key: str, events: list[dict[str, Any]], dropped: int = 0) -> Any:
        from promptvault.client._core import ClientCore, Unavailable

        call = batch_call(key, events, dropped)
        try:
            return ClientCore.decode(call, await self._client._send(call))
        except (Unavailable, PromptVaultError) as exc:
            raise send_failed(exc) from None

    async def running(self, prompt: str, label: str | None = None) -> list[Experiment]:
        """Running experiments of a prompt."""
        return await self._client._call(  # type: ignore[no-any-return]
            ClientExperiments.running_call(prompt, label)
        )
