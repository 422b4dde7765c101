"""A stored run as callers see it: the :class:`Run` entity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptvault.evals.models import CaseResult, Run, RunProgress, RunSummary, Score

__all__ = ["run_entity"]


def run_entity(
    row: Mapping[str, Any], results: list[dict[str, Any]] | None, counts: tuple[int, int]
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
        status=row["status"],
        total=row["total"],
        summary=summary,
        created_at=row["created_at"],
        created_by=row["created_by"],
        finished_at=row["finished_at"],
        progress=RunProgress(done=counts[0], total=row["total"], errors=counts[1]),
        results=items,
    )
