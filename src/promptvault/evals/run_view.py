"""A stored run as callers see it: the :class:`Run` entity, its status read through its
lease (see :mod:`promptvault.evals.lease`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from promptvault.evals.models import CaseResult, Run, RunProgress, RunSummary, Score

__all__ = ["run_entity", "shown_status"]


def shown_status(status: str, lease_until: datetime | None, now: datetime) -> str:
    """The status a run has: a ``running`` run whose lease ran out (or that never had one:
    it predates leases) is ``interrupted``, though no process was left to record it."""
    if status == "running" and (lease_until is None or lease_until <= now):
        return "interrupted"
    return status


def run_entity(
    row: Mapping[str, Any],
    results: list[dict[str, Any]] | None,
    counts: tuple[int, int],
    now: datetime,
) -> Run:
    """The run of a stored row, its results (when read) and its (done, errors) counts."""
    summary = RunSummary(**row["summary"]) if row.get("summary") else None
    items = None
    if results is not None:
        items = [
            CaseResult(
                key=r["case_key"],
                output=r["output"],
                latency_ms=r["latency_ms"],
                input_tokens=r["input_tokens"],
                output_tokens=r["output_tokens"],
                cost=r["cost"],
                cached=r["cached"],
                error=r["error"],
                scores=[Score(**s) for s in r["scores"] or []],
            )
            for r in results
        ]
    return Run(
        id=row["id"],
        dataset=row["dataset"],
        dataset_version=row["dataset_version"],
        prompt=row["prompt"],
        version=row["version"],
        ref=row["ref"],
        provider=row["provider"],
        model=row["model"],
        evaluators=list(row["evaluators"] or []),
        status=shown_status(row["status"], row["lease_until"], now),
        total=row["total"],
        summary=summary,
        created_at=row["created_at"],
        created_by=row["created_by"],
        finished_at=row["finished_at"],
        progress=RunProgress(done=counts[0], total=row["total"], errors=counts[1]),
        results=items,
    )
