"""Recording and ingesting events: the part of the experiments service applications call.

Library calls (:meth:`EventsMixin.record_exposure`, :meth:`EventsMixin.record_outcome`,
and the exposures ``vault.get(unit_id=...)`` records) are queued and written in batches;
:meth:`EventsMixin.ingest` writes one batch at once (what ``POST /v1/events`` calls).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from promptvault.errors import InvalidInputError
from promptvault.experiments.buffer import EventBuffer
from promptvault.experiments.definitions import parse_events
from promptvault.experiments.ingest import ingest_events
from promptvault.experiments.models import CheckResult, Event, IngestResult
from promptvault.storage.database import Database
from promptvault.storage.unit_of_work import UnitOfWork, utcnow

__all__ = ["EventsMixin"]

log = logging.getLogger("promptvault.experiments")


class EventsMixin:
    """Event methods of :class:`~promptvault.experiments.service.ExperimentService`."""

    db: Database
    buffer: EventBuffer
    check_every: int
    _since_check: Counter[str]

    def check(self, name: str, *, actor: str = ..., flush: bool = True) -> CheckResult:
        """Provided by the service."""
        raise NotImplementedError

    # --- events ---------------------------------------------------------------------------

    def record_exposure(
        self, experiment: str, unit_id: str | None, *, variant: str | None = None
    ) -> None:
        """Queue an exposure (written in the next batch; see :meth:`flush`)."""
        self.buffer.add(("exposure", experiment, unit_id, variant, None, None, utcnow()))

    def record_outcome(self, experiment: str, unit_id: str, metric: str, value: float) -> None:
        """Queue an outcome: 0/1 for binary metrics, any finite number for continuous ones."""
        self.buffer.add(("outcome", experiment, unit_id, None, metric, float(value), utcnow()))

    def flush(self) -> int:
        """Write queued events now; returns how many were written."""
        return self.buffer.flush()

    def _write_buffered(self, events: list[Event]) -> None:
        self.ingest(events)

    def ingest(
        self, events: Sequence[Event | Mapping[str, Any]], *, key: str | None = None
    ) -> IngestResult:
        """Store a batch of events in one transaction (raw rows and statistics together).

        With ``key``, a batch already ingested under that key is not applied again: its
        first result comes back with ``duplicate=True``.
        """
        if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 200):
            raise InvalidInputError("key must be 1..200 characters", details={"field": "key"})
        parsed = parse_events(events)

        def ingest_in(work: UnitOfWork) -> tuple[IngestResult, Counter[str]]:
            if key is not None:
                previous = work.experiments.batch_result(key)
                if previous is not None:
                    return IngestResult(**{**previous, "duplicate": True}), Counter()
            now = utcnow()
            accepted, rejected, per_experiment = ingest_events(work, parsed, now=now)
            reasons: Counter[str] = Counter()
            for (_, reason), count in rejected.items():
                reasons[reason] += count
            result = IngestResult(key=key, accepted=accepted, rejected=dict(reasons))
            if key is not None:
                work.experiments.save_batch(key, result.model_dump(mode="json"), now)
            return result, per_experiment

        # Atomic upserts and inserts under unique keys: no need to queue behind prompt
        # writes and the audit chain.
        result, per_experiment = self.db.write_work(ingest_in, serial=False)
        self._after_ingest(per_experiment)
        return result

    def _after_ingest(self, per_experiment: Counter[str]) -> None:
        # Cheap on the ingestion path: a check reads a few aggregate rows, and runs only
        # once an experiment has taken ``check_every`` new events in this process.
        for name, count in per_experiment.items():
            self._since_check[name] += count
            if self._since_check[name] >= self.check_every:
                self._since_check[name] = 0
                try:
                    self.check(name, flush=False)
                except Exception:  # the batch is stored; a failed check runs again later
                    log.exception("guardrail check of %s failed", name)
