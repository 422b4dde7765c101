"""Automatic stop rules, from the stored sufficient statistics (pure, no I/O).

Two reasons stop a running experiment by itself:

* **Sample ratio mismatch**: the units first exposed under the current weights (the
  ``$units@<epoch>`` counters; a ramp starts a new epoch) do not match those weights
  (chi-square, p < 0.001), once at least ``min_units`` units arrived. A broken split makes
  every comparison meaningless, and usually means a bug in the application. Not acted on
  while exposures naming a variant the server does not assign make up 1% of the units or
  more: then whoever sends events, not the application, may be what skews the split (the
  server refuses those exposures, and refusing them selects the units that remain), so
  stopping is left to a person reading the report.
* **A guardrail significantly worse**: for a guardrail metric, the always-valid
  (mixture SPRT) confidence interval of ``treatment - control`` lies entirely beyond the
  guardrail's ``tolerance`` on the bad side, with at least ``min_n`` values in both groups.
  Always-valid intervals stay valid however often this runs, which is why it can run on
  ingestion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from promptvault.experiments import stats
from promptvault.experiments.models import Experiment
from promptvault.experiments.stats import Summary

__all__ = ["Totals", "Verdict", "evaluate", "summary"]

Totals = Mapping[tuple[int, str], tuple[int, float, float]]
"""``{(variant position, metric): (n, sum, sum_sq)}``."""


@dataclass(frozen=True)
class Verdict:
    """What the rules found: ``reasons`` is empty when nothing calls for a stop."""

    reasons: tuple[str, ...]
    details: tuple[dict[str, object], ...]
    srm_p_value: float | None
    units: int
    notes: tuple[str, ...] = ()


def summary(totals: Totals, position: int, metric: str) -> Summary:
    """The :class:`Summary` of one variant on one metric (empty when nothing arrived)."""
    n, s, sq = totals.get((position, metric), (0, 0.0, 0.0))
    return Summary(n=int(n), sum=float(s), sum_sq=max(float(sq), 0.0))


def evaluate(
    exp: Experiment,
    totals: Totals,
    *,
    alpha: float = 0.05,
    min_units: int = 100,
    min_n: int = 30,
    mismatched: int = 0,
) -> Verdict:
    """Apply the stop rules to one experiment's totals (``mismatched``: exposures refused
    because they named a variant the unit is not assigned to)."""
    reasons: list[str] = []
    notes: list[str] = []
    details: list[dict[str, object]] = []
    epoch_units = [summary(totals, i, f"$units@{exp.epoch}").n for i in range(len(exp.variants))]
    units = sum(epoch_units)
    srm_p: float | None = None
    if units >= min_units:
        result = stats.srm(epoch_units, list(exp.assigner().shares))
        srm_p = result.p_value
        shown = "unknown" if srm_p is None else f"{srm_p:.2g}"
        if result.mismatch and mismatched * 100 >= units:
            notes.append(
                f"sample ratio mismatch (p = {shown}) not acted on: {mismatched} exposures "
                f"named a variant the server does not assign, so the events may be skewed "
                f"by their sender; read the report before stopping"
            )
        elif result.mismatch:
            reasons.append(
                f"sample ratio mismatch: {units} units split {epoch_units} against weights "
                f"{[v.weight for v in exp.variants]} (p = {shown} < 0.001)"
            )
            details.append(
                {"rule": "srm", "observed": epoch_units, "p_value": srm_p, "units": units}
            )
    for guard in exp.guardrails:
        control = summary(totals, 0, guard.name)
        for i, variant in enumerate(exp.variants[1:], start=1):
            treated = summary(totals, i, guard.name)
            if min(control.n, treated.n) < min_n:
                continue
            if guard.kind == "binary":
                test = stats.msprt_proportions(
                    round(control.sum), control.n, round(treated.sum), treated.n, alpha=alpha
                )
            else:
                test = stats.msprt(control, treated, alpha=alpha)
            if test.ci_low is None or test.ci_high is None or test.diff is None:
                continue
            if guard.direction == "higher":
                worse = test.ci_high < -guard.tolerance
            else:
                worse = test.ci_low > guard.tolerance
            if worse:
                reasons.append(
                    f"guardrail {guard.name}: {variant.name} is worse than control by "
                    f"{abs(test.diff):.4g} (always-valid {1 - alpha:.0%} interval "
                    f"[{test.ci_low:.4g}, {test.ci_high:.4g}], tolerance {guard.tolerance:g})"
                )
                details.append(
                    {
                        "rule": "guardrail",
                        "metric": guard.name,
                        "variant": variant.name,
                        "diff": test.diff,
                        "ci_low": test.ci_low,
                        "ci_high": test.ci_high,
                        "p_value": test.p_value,
                    }
                )
    return Verdict(tuple(reasons), tuple(details), srm_p, units, tuple(notes))
