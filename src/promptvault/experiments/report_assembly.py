"""Assemble an :class:`ExperimentReport` from stored totals and daily statistics (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from promptvault.experiments.analysis import MetricData, analyse
from promptvault.experiments.distributions import norm_ppf
from promptvault.experiments.guard import Totals, summary
from promptvault.experiments.models import Experiment, ExperimentReport
from promptvault.experiments.phases import PhaseData

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


def _allocation(
    exp: Experiment, analysis: Mapping[str, Any], history: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A bandit's weights over time and the regret saved against an equal fixed split."""
    from promptvault.experiments.bandit import regret

    names = [v.name for v in exp.variants]
    primary = analysis["metrics"][0]
    units = [v["n"] for v in primary["variants"]]
    means = [v["mean"] for v in primary["variants"]]
    return {
        "method": "thompson sampling",
        "floor": exp.floor,
        "inference": (
            "each phase has fixed weights, so arms are compared within phases and the phases "
            f"combined ({analysis['method']}); sequential mode gives always-valid intervals"
        ),
        "weights": [
            {
                "epoch": p["epoch"],
                "at": p["started_at"].isoformat() if p.get("started_at") else None,
                "reason": p.get("reason", ""),
                "weights": dict(zip(names, p["weights"], strict=True)),
            }
            for p in history
        ],
        "regret": regret(units, means, lower=exp.primary_metric.direction == "lower"),
    }


def build_report(
    exp: Experiment,
    totals: Totals,
    days: Mapping[str, DayRows],
    rejected: Mapping[str, int],
    *,
    mode: Literal["fixed", "sequential"] = "sequential",
    alpha: float = 0.05,
    phases: PhaseData | None = None,
    history_note: str | None = None,
    history: Sequence[Mapping[str, Any]] = (),
) -> ExperimentReport:
    """The full report; the split check uses the units of the current weight epoch.

    With ``phases`` (an experiment whose weights changed) every comparison is the by-phase
    estimate of :mod:`.phases`, over the units it keeps.
    """
    names = [v.name for v in exp.variants]
    positions = range(len(names))
    if phases is None:
        metrics = [
            MetricData(
                m.name,
                m.kind,
                {names[i]: summary(totals, i, m.name) for i in positions},
                m.direction,
            )
            for m in exp.all_metrics()
        ]
    else:
        metrics = [
            MetricData(
                m.name,
                m.kind,
                dict(zip(names, phases.pooled(m.name), strict=True)),
                m.direction,
                phases.metrics[m.name],
            )
            for m in exp.all_metrics()
        ]
    epoch_units = [summary(totals, i, f"$units@{exp.epoch}").n for i in positions]
    analysis = analyse(
        names, epoch_units, list(exp.assigner().shares), metrics, mode=mode, alpha=alpha
    ).to_dict()
    notes = list(analysis["notes"])
    if phases is not None:
        kept = sum(sum(row) for row in phases.units)
        notes.append(
            f"weights changed {len(phases.units) - 1} time(s): each phase is compared on its "
            f"own and the phases are combined ({analysis['method']}); {kept} units counted, "
            f"{phases.left_out} left out because a later phase serves their bucket another "
            f"variant"
        )
        analysis["phases"] = [
            {"epoch": e, "units": dict(zip(names, row, strict=True))}
            for e, row in enumerate(phases.units)
        ]
    if history_note:
        notes.append(history_note)
    analysis["notes"] = notes
    if exp.allocation == "bandit":
        analysis["allocation"] = _allocation(exp, analysis, history)
    return ExperimentReport(
        experiment=exp,
        mode=mode,
        units={names[i]: summary(totals, i, "$units").n for i in positions},
        exposures={names[i]: summary(totals, i, "$exposures").n for i in positions},
        random_exposures={names[i]: summary(totals, i, "$random").n for i in positions},
        rejected=dict(rejected),
        analysis=analysis,
        timeline={
            m.name: timeline(exp, m.kind, days.get(m.name, ()), confidence=1 - alpha)
            for m in exp.all_metrics()
        },
    )
