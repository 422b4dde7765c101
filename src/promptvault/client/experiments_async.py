"""Experiments in the async SDK: local assignment and buffered events, as in the sync SDK.

``await pv.get("support", unit_id="u42")`` resolves the reference, looks up the experiment
running on its label (cached for ``cache_ttl``, refreshed by a background task), assigns
locally, returns the variant's version with ``experiment``/``variant`` set and queues an
exposure. Outcomes are queued with :meth:`AsyncClientExperiments.record_outcome`; events go
out in batches (:mod:`promptvault.client.events_async`). An unreachable server never breaks
a request: the unit then gets the label's version.

The routing is shared with the sync client (``_routing_async.py``); here are only the
background lookups as tasks of the client's loop, and their end at ``aclose``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from promptvault.client._routing_async import AsyncExperimentRouting

__all__ = ["AsyncClientExperiments"]


class AsyncClientExperiments(AsyncExperimentRouting):
    """The experiment side of :class:`~promptvault.client.AsyncPromptVaultClient`."""

    def __init__(self, client: Any, **queue_options: Any) -> None:
        super().__init__(client, **queue_options)
        self._tasks: set[asyncio.Task[None]] = set()

    def _refresh_later(self, key: tuple[str, str]) -> None:
        task = asyncio.get_running_loop().create_task(self._refresh(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Send what is left and stop the background task."""
        await self.events.aclose()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
