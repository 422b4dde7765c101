"""A run's totals from its stored results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from promptvault.evals.models import EvaluatorSummary, RunSummary

__all__ = ["percentile", "summarize"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(total: int, results: Sequence[Mapping[str, Any]]) -> RunSummary:
    """Counts, latency percentiles, tokens, cost and per-evaluator means of a run."""
    ok = [r for r in results if r["error"] is None]
    latencies = [float(r["latency_ms"]) for r in ok if not r["cached"]] or [
        float(r["latency_ms"]) for r in ok
    ]
    scores: dict[str, list[tuple[float, bool]]] = {}
    for r in ok:
        for s in r["scores"] or []:
            scores.setdefault(s["name"], []).append((float(s["score"]), bool(s["passed"])))
    cost_total = sum(float(r["cost"] or 0.0) for r in ok)
    return RunSummary(
        cases=total,
        finished=len(ok),
        errors=len(results) - len(ok),
        cached=sum(1 for r in ok if r["cached"]),
        latency_ms_p50=percentile(latencies, 0.5),
        latency_ms_p95=percentile(latencies, 0.95),
        input_tokens=sum(int(r["input_tokens"]) for r in ok),
        output_tokens=sum(int(r["output_tokens"]) for r in ok),
        cost=sum(float(r["cost"] or 0.0) for r in ok if not r["cached"]),
        cost_total=cost_total,
        evaluators={
            name: EvaluatorSummary(
                name=name,
                n=len(values),
                mean=sum(v for v, _ in values) / len(values),
                pass_rate=sum(1 for _, p in values if p) / len(values),
            )
            for name, values in scores.items()
        },
    )
