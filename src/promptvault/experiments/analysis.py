"""The statistical analysis of an experiment from per-variant sufficient statistics (pure).

:func:`analyse` runs the sample ratio mismatch check first (a broken split invalidates the
rest), then, per metric and per treatment against control: n, mean, standard error,
absolute and relative lift with CIs, a p-value in the chosen mode, Holm-adjusted p-values
when there are several treatments, the chance to beat control and the chance to be best.

Modes: ``"fixed"`` uses Welch's t (continuous) or the two-proportion z test (binary) and is
valid only when the sample size was fixed in advance and the data is looked at once;
``"sequential"`` uses always-valid mixture-SPRT p-values and confidence sequences, valid
however often the report is read. The report states its mode. With ``direction="lower"``
"better" means lower: chance to beat and chance to be best then refer to the lower value,
while lifts and statistics keep their sign convention (positive when the treatment is
higher).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from promptvault.errors import InvalidInputError
from promptvault.experiments import stats
from promptvault.experiments.distributions import norm_ppf
from promptvault.experiments.phases import METHOD, stratified_test
from promptvault.experiments.stats import SrmResult, Summary, TestResult

__all__ = ["Comparison", "MetricData", "MetricReport", "Report", "VariantStats", "analyse"]

Kind = Literal["binary", "continuous"]
Direction = Literal["higher", "lower"]
Mode = Literal["fixed", "sequential"]


@dataclass(frozen=True)
class MetricData:
    """One metric's input: its kind, direction and a :class:`Summary` per variant name.

    ``phases`` (one tuple of summaries per phase, in variant order) switches the
    comparisons to the by-phase estimate of :mod:`.phases`; ``summaries`` then hold what
    those phases count, added up.
    """

    name: str
    kind: Kind
    summaries: Mapping[str, Summary]
    direction: Direction = "higher"
    phases: tuple[tuple[Summary, ...], ...] | None = None


@dataclass(frozen=True)
class VariantStats:
    """One variant on one metric."""

    variant: str
    n: int
    mean: float | None
    std_error: float | None
    chance_to_be_best: float | None


@dataclass(frozen=True)
class Comparison:
    """A treatment against control on one metric (differences are treatment minus control)."""

    variant: str
    control: str
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    relative_lift: float | None
    relative_ci_low: float | None
    relative_ci_high: float | None
    statistic: float | None
    p_value: float | None
    p_value_adjusted: float | None
    significant: bool
    better: bool | None
    chance_to_beat: float | None
    reason: str | None = None


@dataclass(frozen=True)
class MetricReport:
    """Every variant and every comparison on one metric."""

    name: str
    kind: Kind
    direction: Direction
    variants: tuple[VariantStats, ...]
    comparisons: tuple[Comparison, ...]


@dataclass(frozen=True)
class Report:
    """The whole analysis; ``to_dict()`` gives plain JSON-ready data."""

    mode: Mode
    alpha: float
    control: str
    variants: tuple[str, ...]
    srm: SrmResult
    metrics: tuple[MetricReport, ...]
    notes: tuple[str, ...] = field(default=())
    method: str = "pooled"
    """``pooled`` (one phase) or ``stratified by phase`` (see :mod:`.phases`)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts and lists, ready for ``json.dumps``."""
        return _lists(asdict(self))  # type: ignore[no-any-return]


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value


def _test(
    kind: Kind,
    a: Summary,
    b: Summary,
    *,
    mode: Mode,
    alpha: float,
    tau: float | None,
    previous_p: float | None,
) -> TestResult:
    if kind == "binary":
        sa, sb = round(a.sum), round(b.sum)
        if mode == "sequential":
            return stats.msprt_proportions(
                sa, a.n, sb, b.n, tau=tau, alpha=alpha, previous_p=previous_p
            )
        return stats.two_proportions(sa, a.n, sb, b.n, confidence=1 - alpha)
    if mode == "sequential":
        return stats.msprt(a, b, tau=tau, alpha=alpha, previous_p=previous_p)
    return stats.welch(a, b, confidence=1 - alpha)


def _relative_of_stratified(a: Summary, test: TestResult, alpha: float) -> TestResult:
    """``diff / control mean`` for a by-phase estimate, with the delta-method variance."""
    if test.diff is None or test.std_error is None or not a.n or not a.sum:
        return TestResult("relative_lift", None, reason="no relative lift without a control mean")
    mean = a.sum / a.n
    se_c = a.std_error or 0.0
    rel = test.diff / mean
    se = math.sqrt(test.std_error**2 / mean**2 + test.diff**2 * se_c**2 / mean**4)
    if test.ci_low is not None and test.ci_high is not None and test.std_error:
        mult = (test.ci_high - test.ci_low) / 2 / test.std_error
    else:
        mult = norm_ppf(1 - alpha / 2)
    return TestResult(
        "relative_lift", rel, ci_low=rel - mult * se, ci_high=rel + mult * se, std_error=se
    )


def _relative(kind: Kind, a: Summary, b: Summary, test: TestResult, alpha: float) -> TestResult:
    if kind == "binary" and a.n and b.n:
        # Bernoulli variances p(1-p)/n, consistent with the binary test's CI.
        pa, pb = a.sum / a.n, b.sum / b.n
        if pa == 0.0:
            return TestResult("relative_lift", None, reason="control rate is zero")
        rel = (pb - pa) / pa
        se = math.sqrt(pb * (1 - pb) / b.n / pa**2 + pb**2 * pa * (1 - pa) / a.n / pa**4)
        base = TestResult("relative_lift", rel, std_error=se)
    else:
        base = stats.relative_lift(a, b, confidence=1 - alpha)
    if base.diff is None or base.std_error is None:
        return base
    # The relative CI takes the same width multiplier as the absolute one, so in
    # sequential mode it is the matching (wider) always-valid interval.
    if test.ci_low is not None and test.ci_high is not None and test.std_error:
        mult = (test.ci_high - test.ci_low) / 2 / test.std_error
    else:
        mult = norm_ppf(1 - alpha / 2)
    half = mult * base.std_error
    return TestResult(
        "relative_lift",
        base.diff,
        ci_low=base.diff - half,
        ci_high=base.diff + half,
        std_error=base.std_error,
    )


def _bayes(
    kind: Kind, direction: Direction, control: Summary, summaries: Sequence[Summary]
) -> tuple[list[float | None], tuple[float, ...] | None]:
    """Chance to beat control per summary, and chance to be best across all of them."""
    lower = direction == "lower"
    beat: list[float | None] = []
    if kind == "binary":
        succ = [round(s.sum) for s in summaries]
        ns = [s.n for s in summaries]
        if lower:  # a lower rate is a higher failure rate
            succ = [n - k for k, n in zip(succ, ns, strict=True)]
        c_succ = round(control.n - control.sum) if lower else round(control.sum)
        for k, n in zip(succ, ns, strict=True):
            beat.append(stats.chance_to_beat(c_succ, control.n, k, n))
        best = stats.chance_to_be_best(succ, ns)
        return beat, best
    flip = [Summary(s.n, -s.sum, s.sum_sq) for s in summaries] if lower else list(summaries)
    c = Summary(control.n, -control.sum, control.sum_sq) if lower else control
    beat = [stats.chance_to_beat_normal(c, s) for s in flip]
    return beat, stats.chance_to_be_best_normal(flip)


def analyse(
    variants: Sequence[str],
    exposures: Sequence[int],
    weights: Sequence[float],
    metrics: Sequence[MetricData],
    *,
    mode: Mode = "fixed",
    alpha: float = 0.05,
    tau: float | None = None,
    previous_p: Mapping[tuple[str, str], float] | None = None,
) -> Report:
    """Analyse an experiment; ``variants[0]`` is control.

    ``exposures`` and ``weights`` are per variant (for the SRM check). In sequential mode
    ``previous_p`` maps ``(metric, variant)`` to the p-value of the previous look, so
    always-valid p-values stay monotone across looks; ``tau`` is the mixing standard
    deviation (see :func:`stats.msprt`). Holm's adjustment runs across the treatments of
    each metric when there are two or more.
    """
    if mode not in ("fixed", "sequential"):
        raise InvalidInputError(
            f"mode must be 'fixed' or 'sequential', not {mode!r}", details={"field": "mode"}
        )
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError("alpha must be between 0 and 1", details={"field": "alpha"})
    names = tuple(variants)
    if len(names) < 2 or len(set(names)) != len(names):
        raise InvalidInputError(
            "need at least two distinct variants", details={"field": "variants"}
        )
    if len(exposures) != len(names) or len(weights) != len(names):
        raise InvalidInputError(
            "one exposure count and one weight per variant", details={"field": "exposures"}
        )
    srm_result = stats.srm(exposures, weights)
    control = names[0]
    notes: list[str] = []
    if srm_result.mismatch:
        notes.append(
            "sample ratio mismatch: exposures do not match the weights, so the split is "
            "broken and the comparisons below cannot be trusted"
        )
    reports = []
    method = "pooled"
    for metric in metrics:
        if metric.kind not in ("binary", "continuous"):
            raise InvalidInputError(
                f"metric kind must be binary or continuous, not {metric.kind!r}",
                details={"field": f"metrics.{metric.name}.kind"},
            )
        if metric.direction not in ("higher", "lower"):
            raise InvalidInputError(
                f"direction must be higher or lower, not {metric.direction!r}",
                details={"field": f"metrics.{metric.name}.direction"},
            )
        missing = [v for v in names if v not in metric.summaries]
        if missing:
            raise InvalidInputError(
                f"metric {metric.name!r} has no data for {', '.join(missing)}",
                details={"field": f"metrics.{metric.name}", "missing": missing},
            )
        summaries = [metric.summaries[v] for v in names]
        beat, best = _bayes(metric.kind, metric.direction, summaries[0], summaries)
        variant_stats = tuple(
            VariantStats(
                variant=v,
                n=s.n,
                mean=s.mean,
                std_error=_binary_se(s) if metric.kind == "binary" else s.std_error,
                chance_to_be_best=None if best is None else best[i],
            )
            for i, (v, s) in enumerate(zip(names, summaries, strict=True))
        )
        phased = metric.phases
        if phased is not None:
            method = METHOD
            tests = [
                stratified_test(
                    metric.kind,
                    [row[0] for row in phased],
                    [row[k] for row in phased],
                    mode=mode,
                    alpha=alpha,
                    tau=tau,
                    previous_p=(previous_p or {}).get((metric.name, v)),
                )
                for k, v in enumerate(names[1:], start=1)
            ]
        else:
            tests = [
                _test(
                    metric.kind,
                    summaries[0],
                    s,
                    mode=mode,
                    alpha=alpha,
                    tau=tau,
                    previous_p=(previous_p or {}).get((metric.name, v)),
                )
                for v, s in zip(names[1:], summaries[1:], strict=True)
            ]
        raw = [t.p_value for t in tests]
        adjusted = stats.holm(raw) if len(tests) > 1 else raw
        comparisons = []
        for k, (v, s, test) in enumerate(zip(names[1:], summaries[1:], tests, strict=True)):
            if phased is not None:
                rel = _relative_of_stratified(summaries[0], test, alpha)
            else:
                rel = _relative(metric.kind, summaries[0], s, test, alpha)
            p_adj = adjusted[k]
            significant = p_adj is not None and p_adj < alpha
            better = None
            if significant and test.diff is not None:
                better = (test.diff > 0) == (metric.direction == "higher")
            comparisons.append(
                Comparison(
                    variant=v,
                    control=control,
                    diff=test.diff,
                    ci_low=test.ci_low,
                    ci_high=test.ci_high,
                    relative_lift=rel.diff,
                    relative_ci_low=rel.ci_low,
                    relative_ci_high=rel.ci_high,
                    statistic=test.statistic,
                    p_value=test.p_value,
                    p_value_adjusted=p_adj,
                    significant=significant,
                    better=better,
                    chance_to_beat=beat[k + 1],
                    reason=test.reason or rel.reason,
                )
            )
        reports.append(
            MetricReport(
                metric.name, metric.kind, metric.direction, variant_stats, tuple(comparisons)
            )
        )
    return Report(mode, alpha, control, names, srm_result, tuple(reports), tuple(notes), method)


def _binary_se(s: Summary) -> float | None:
    if s.n == 0:
        return None
    p = s.sum / s.n
    return math.sqrt(p * (1 - p) / s.n)
