"""Resolution through a running experiment, cached like label pointers.

``vault.get(ref, unit_id=...)`` first resolves the reference as usual, then asks the
:class:`Router`: is an experiment running on this prompt and label? The answer (an
experiment and its assigner, or "none") is cached for the label TTL, so a warm call costs a
dict lookup, one assignment and a queued exposure. References pinned to a version number
never go through an experiment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from promptvault.entities import PromptVersion
from promptvault.experiments.assignment import Assigner
from promptvault.experiments.buffer import EventBuffer
from promptvault.experiments.models import Experiment
from promptvault.storage.unit_of_work import utcnow

__all__ = ["Router"]


class _Route:
    __slots__ = ("assigner", "experiment", "expires", "versions")

    def __init__(self, experiment: Experiment | None, expires: float) -> None:
        self.experiment = experiment
        self.expires = expires
        self.assigner: Assigner | None = experiment.assigner() if experiment else None
        self.versions: dict[str, PromptVersion] = {}


class Router:
    """Routes resolved versions through running experiments and queues their exposures."""

    def __init__(
        self,
        load_running: Callable[[str, str], Experiment | None],
        fetch_version: Callable[[str, int], PromptVersion],
        buffer: EventBuffer,
        *,
        ttl: float,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._load = load_running
        self._fetch = fetch_version
        self._buffer = buffer
        self.ttl = ttl
        self.clock = clock or time.monotonic
        self._routes: dict[tuple[str, str], _Route] = {}

    def invalidate(self) -> None:
        """Forget every cached answer (after a start, stop, ramp or conclusion here)."""
        self._routes.clear()

    def _route(self, name: str, label: str) -> _Route:
        key = (name, label)
        now = self.clock()
        found = self._routes.get(key)
        if found is None or found.expires <= now:
            found = _Route(self._load(name, label), now + self.ttl)
            self._routes[key] = found
        return found

    def route(self, found: PromptVersion, unit_id: Any) -> PromptVersion:
        """The variant's version for ``unit_id`` (``found`` itself when no experiment)."""
        label = found.resolved_label
        if label is None:
            return found
        route = self._route(found.name, label)
        exp, assigner = route.experiment, route.assigner
        if exp is None or assigner is None:
            return found
        variant = assigner.variant(unit_id)
        if variant is None:  # outside the coverage: not in the experiment, no exposure
            return found
        result = route.versions.get(variant)
        if result is None:
            chosen = exp.variant(variant)
            assert chosen is not None
            result = self._fetch(found.name, chosen.version).model_copy(
                update={"experiment": exp.name, "variant": variant, "resolved_label": label}
            )
            route.versions[variant] = result
        self._buffer.add(("exposure", exp.name, unit_id, variant, None, None, utcnow()))
        return result
