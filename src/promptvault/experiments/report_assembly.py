"""Assemble an :class:`ExperimentReport` from stored totals and daily statistics (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from promptvault.experiments.analysis import MetricData, analyse
from promptvault.experiments.distributions import norm_ppf
from promptvault.experiments.guard import Totals, summary
from promptvault.experiments.models import Experiment, ExperimentReport

__all__ = ["build_report", "timeline"]

DayRows = Sequence[tuple[str, int, int, float, float]]
"""``(day, variant position, n, sum, sum_sq)`` rows of one metric."""


def timeline(
    exp: Experiment, kind: str, rows: DayRows, *, confidence: float = 0.95
) -> list[dict[str, Any]]:
    """Cumulative mean and normal CI per variant at the end of each day with data."""
    z = norm_ppf(0.5 + confidence / 2)
    names = [v.name for v in exp.variants]
    running: list[list[float]] = [[0, 0.0, 0.0] for _ in names]
    points: list[dict[str, Any]] = []
    days = sorted({r[0] for r in rows})
    by_day: dict[str, list[tuple[int, int, float, float]]] = {d: [] for d in days}
    for day, pos, n, s, sq in rows:
        by_day[day].append((pos, n, s, sq))
    for day in days:
        for pos, n, s, sq in by_day[day]:
            if 0 <= pos < len(running):
                running[pos][0] += n
                running[pos][1] += s
                running[pos][2] += sq
        for pos, (count, total, total_sq) in enumerate(running):
            if count == 0:
                continue
            mean = total / count
            if kind == "binary":
                var = mean * (1 - mean)
            elif count > 1:
                var = max(0.0, (total_sq - total * total / count) / (count - 1))
            else:
                var = 0.0
            half = z * math.sqrt(var / count) if count > 1 else None
            low = None if half is None else mean - half
            high = None if half is None else mean + half
            if kind == "binary" and low is not None and high is not None:
                low, high = max(0.0, low), min(1.0, high)  # a rate stays within [0, 1]
            points.append(
                {
                    "day": day,
                    "variant": names[pos],
                    "n": int(count),
                    "mean": mean,
                    "ci_low": low,
                    "ci_high": high,
                }
            )
    return points


def build_report(
    exp: Experiment,
    totals: Totals,
    days: Mapping[str, DayRows],
    rejected: Mapping[str, int],
    *,
    mode: Literal["fixed", "sequential"] = "sequential",
    alpha: float = 0.05,
) -> ExperimentReport:
    """The full report; the split check uses the units of the current weight epoch."""
    names = [v.name for v in exp.variants]
    positions = range(len(names))
    metrics = [
        MetricData(
            m.name,
            m.kind,
            {names[i]: summary(totals, i, m.name) for i in positions},
            m.direction,
        )
        for m in exp.all_metrics()
    ]
    epoch_units = [summary(totals, i, f"$units@{exp.epoch}").n for i in positions]
    analysis = analyse(
        names, epoch_units, list(exp.assigner().shares), metrics, mode=mode, alpha=alpha
    )
    return ExperimentReport(
        experiment=exp,
        mode=mode,
        units={names[i]: summary(totals, i, "$units").n for i in positions},
        exposures={names[i]: summary(totals, i, "$exposures").n for i in positions},
        random_exposures={names[i]: summary(totals, i, "$random").n for i in positions},
        rejected=dict(rejected),
        analysis=analysis.to_dict(),
        timeline={
            m.name: timeline(exp, m.kind, days.get(m.name, ()), confidence=1 - alpha)
            for m in exp.all_metrics()
        },
    )
