"""What the experiment pages show, worked out from an :class:`ExperimentReport`.

Numbers are formatted here, once, for people: binary metrics as rates (``31.2%``) with
lifts in percentage points, continuous metrics with four significant digits, p-values and
chances as the report gives them, and an undefined figure as a dash with the report's
reason. The templates only lay the values out (and escape them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptvault.experiments.models import Experiment, ExperimentReport
from promptvault.server.ui.charts import Chart, bars_chart, timeline_chart

__all__ = [
    "MODES",
    "MetricView",
    "ReportView",
    "RowView",
    "SrmView",
    "fmt_chance",
    "fmt_p",
    "fmt_p_eq",
    "formatter",
    "report_view",
    "weight_shares",
]

MODES: dict[str, str] = {
    "sequential": "Sequential (always valid)",
    "fixed": "Fixed horizon",
}
MINUS = "\u2212"
Z95 = 1.959963984540054  # the bars chart shows 95% intervals, like the daily chart


def _signed(text: str, value: float) -> str:
    return ("+" if value > 0 else MINUS if value < 0 else "") + text


def formatter(kind: str) -> Callable[[float], str]:
    """How values of a metric of ``kind`` read: rates for binary, numbers for continuous."""
    return _pct if kind == "binary" else _num


def _pct(value: float, digits: int = 1) -> str:
    text = f"{abs(value) * 100:.{digits}f}%"
    return (MINUS if value < 0 and text.strip("0.%") else "") + text


def _num(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    text = f"{magnitude:.4g}" if 1e-3 <= magnitude < 1e6 else f"{magnitude:.3e}"
    return (MINUS if value < 0 else "") + text


def _lift(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "binary":
        return _signed(f"{abs(value) * 100:.1f} pp", value)
    return _signed(_num(abs(value)), value)


def _rel(value: float | None) -> str:
    if value is None:
        return "—"
    return _signed(f"{abs(value) * 100:.1f}%", value)


def _interval(low: float | None, high: float | None, one: Callable[[float | None], str]) -> str:
    if low is None or high is None:
        return ""
    return f"{one(low)} to {one(high)}"


def fmt_p(value: float | None) -> str:
    """A p-value for people: ``< 0.001``, three decimals, or a dash when undefined."""
    if value is None or not math.isfinite(value):
        return "—"
    if value < 0.001:
        return "< 0.001"
    return f"{value:.3f}"


def fmt_p_eq(value: float | None) -> str:
    """A p-value after "p": ``= 0.039``, ``< 0.001``, or ``undefined``."""
    text = fmt_p(value)
    if text == "—":
        return "undefined"
    return text if text.startswith("<") else f"= {text}"


def fmt_chance(value: float | None) -> str:
    """A probability as a percentage, saturating at the ends (never "100%")."""
    if value is None or not math.isfinite(value):
        return "—"
    if value > 0.999:
        return "> 99.9%"
    if value < 0.001:
        return "< 0.1%"
    return f"{value * 100:.1f}%"


def weight_shares(exp: Experiment) -> dict[str, float]:
    """Each variant's share of the traffic that enters the experiment (0..1)."""
    total = sum(v.weight for v in exp.variants)
    return {v.name: (v.weight / total if total else 0.0) for v in exp.variants}


@dataclass(frozen=True, slots=True)
class RowView:
    """One variant's line in a metric's report table."""

    variant: str
    index: int
    control: bool
    n: str
    mean: str
    lift: str
    lift_ci: str
    rel: str
    rel_ci: str
    p: str
    p_adjusted: str
    p_value: float | None
    p_adjusted_value: float | None
    beat: str
    beat_value: float | None
    best: str
    verdict: str
    verdict_css: str
    reason: str


@dataclass(frozen=True, slots=True)
class MetricView:
    """A metric's table and charts."""

    name: str
    kind: str
    direction: str
    role: str  # primary, guardrail or metric
    tolerance: str
    rows: tuple[RowView, ...]
    holm: bool
    chart: Chart | None
    chart_narrow: Chart | None


@dataclass(frozen=True, slots=True)
class SrmView:
    """The split check, shown before everything else."""

    mismatch: bool
    p: str
    p_eq: str
    statistic: str
    reason: str
    rows: tuple[tuple[str, int, str, str], ...]  # variant, observed, expected, share


@dataclass(frozen=True, slots=True)
class ReportView:
    """The whole report page body."""

    mode: str
    mode_label: str
    alpha: str
    confidence: str
    srm: SrmView
    metrics: tuple[MetricView, ...]
    headline: str
    headline_css: str
    notes: tuple[str, ...]


def _verdict(comparison: Mapping[str, Any]) -> tuple[str, str]:
    if comparison.get("reason") and comparison.get("p_value") is None:
        return "undefined", "muted"
    if comparison.get("significant"):
        if comparison.get("better"):
            return "better", "good"
        return "worse", "bad"
    return "not significant", "muted"


def _roles(exp: Experiment) -> dict[str, tuple[str, str]]:
    roles: dict[str, tuple[str, str]] = {}
    for m in exp.metrics:
        roles[m.name] = ("metric", "")
    for g in exp.guardrails:
        roles[g.name] = ("guardrail", _num(g.tolerance) if g.tolerance else "0")
    roles[exp.primary_metric.name] = ("primary", "")
    return roles


def _metric_view(
    data: Mapping[str, Any],
    role: tuple[str, str],
    timeline: Sequence[Mapping[str, Any]],
    variants: Sequence[str],
) -> MetricView:
    kind = str(data["kind"])
    fmt = formatter(kind)
    comparisons = {c["variant"]: c for c in data["comparisons"]}
    holm = len(comparisons) > 1
    rows = []
    bar_rows = []
    for index, stats in enumerate(data["variants"]):
        name = str(stats["variant"])
        mean = stats.get("mean")
        se = stats.get("std_error")
        n = int(stats["n"])
        c = comparisons.get(name)
        if c is None:  # control
            verdict, css, reason = "control", "control", ""
            lift = lift_ci = rel = rel_ci = p = p_adj = beat = ""
            beat_value = p_value = p_adj_value = None
        else:
            verdict, css = _verdict(c)
            reason = str(c.get("reason") or "")
            lift = _lift(c.get("diff"), kind)
            lift_ci = _interval(c.get("ci_low"), c.get("ci_high"), lambda v: _lift(v, kind))
            rel = _rel(c.get("relative_lift"))
            rel_ci = _interval(c.get("relative_ci_low"), c.get("relative_ci_high"), _rel)
            p = fmt_p(c.get("p_value"))
            p_adj = fmt_p(c.get("p_value_adjusted")) if holm else ""
            beat = fmt_chance(c.get("chance_to_beat"))
            beat_value = c.get("chance_to_beat")
            p_value, p_adj_value = c.get("p_value"), c.get("p_value_adjusted")
        rows.append(
            RowView(
                variant=name,
                index=index,
                control=c is None,
                n=f"{n:,}",
                mean="—" if mean is None else fmt(float(mean)),
                lift=lift,
                lift_ci=lift_ci,
                rel=rel,
                rel_ci=rel_ci,
                p=p,
                p_adjusted=p_adj,
                p_value=p_value,
                p_adjusted_value=p_adj_value,
                beat=beat,
                beat_value=beat_value,
                best=fmt_chance(stats.get("chance_to_be_best")),
                verdict=verdict,
                verdict_css=css,
                reason=reason,
            )
        )
        half = None if se is None or mean is None or n < 2 else Z95 * float(se)
        bar_rows.append(
            (
                name,
                None if mean is None else float(mean),
                None if half is None else float(mean) - half,
                None if half is None else float(mean) + half,
                n,
            )
        )
    title = str(data["name"])
    chart = timeline_chart(timeline, variants, fmt=fmt, title=title, width=1080, height=300)
    narrow = timeline_chart(timeline, variants, fmt=fmt, title=title, width=360, height=240)
    if chart is None:
        chart = bars_chart(bar_rows, fmt=fmt, title=title, width=1080, height=300)
        narrow = bars_chart(bar_rows, fmt=fmt, title=title, width=360, height=240)
    return MetricView(
        name=title,
        kind=kind,
        direction=str(data["direction"]),
        role=role[0],
        tolerance=role[1],
        rows=tuple(rows),
        holm=holm,
        chart=chart,
        chart_narrow=narrow,
    )


def _srm_view(srm: Mapping[str, Any], variants: Sequence[str]) -> SrmView:
    observed = list(srm.get("observed") or [])
    expected = list(srm.get("expected") or [])
    total = sum(observed)
    rows = []
    for i, name in enumerate(variants):
        got = int(observed[i]) if i < len(observed) else 0
        want = float(expected[i]) if i < len(expected) else 0.0
        share = f"{got / total * 100:.1f}%" if total else "—"
        rows.append((name, got, f"{want:,.0f}", share))
    statistic = srm.get("statistic")
    return SrmView(
        mismatch=bool(srm.get("mismatch")),
        p=fmt_p(srm.get("p_value")),
        p_eq=fmt_p_eq(srm.get("p_value")),
        statistic="—" if statistic is None else f"{float(statistic):.2f}",
        reason=str(srm.get("reason") or ""),
        rows=tuple(rows),
    )


def _headline(primary: MetricView | None, srm: SrmView) -> tuple[str, str]:
    if srm.mismatch:
        return (
            "The traffic split does not match the weights, so these results cannot be "
            "trusted. Find out why before deciding anything.",
            "bad",
        )
    if primary is None:
        return "", "muted"
    treatments = [r for r in primary.rows if not r.control]
    winners = [r for r in treatments if r.verdict == "better"]
    losers = [r for r in treatments if r.verdict == "worse"]
    if winners:
        r = winners[0]
        return (
            f"{r.variant} beats control on {primary.name}: {r.lift} ({r.rel}), "
            f"p {fmt_p_eq(r.p_adjusted_value if r.p_adjusted else r.p_value)}.",
            "good",
        )
    if losers and len(losers) == len(treatments):
        r = losers[0]
        return f"{r.variant} does worse than control on {primary.name}: {r.lift} ({r.rel}).", "bad"
    defined = [r for r in treatments if r.verdict != "undefined"]
    if not defined:
        return f"Not enough data on {primary.name} yet to compare the variants.", "muted"
    lead = max(defined, key=lambda r: r.beat_value or 0.0)
    return (
        f"No significant difference on {primary.name} yet. {lead.variant}: {lead.lift}, "
        f"{lead.beat} chance to beat control.",
        "muted",
    )


def report_view(report: ExperimentReport) -> ReportView:
    """The report, formatted; the SRM check first, then every metric (primary first)."""
    exp = report.experiment
    analysis = report.analysis
    variants = [v.name for v in exp.variants]
    roles = _roles(exp)
    metrics = tuple(
        _metric_view(
            m,
            roles.get(str(m["name"]), ("metric", "")),
            report.timeline.get(str(m["name"]), []),
            variants,
        )
        for m in analysis["metrics"]
    )
    srm = _srm_view(analysis["srm"], variants)
    primary = next((m for m in metrics if m.role == "primary"), None)
    headline, css = _headline(primary, srm)
    mode = str(analysis.get("mode", report.mode))
    alpha = float(analysis.get("alpha", 0.05))
    return ReportView(
        mode=mode,
        mode_label=MODES.get(mode, mode),
        alpha=f"{alpha:g}",
        confidence=f"{(1 - alpha) * 100:g}%",
        srm=srm,
        metrics=metrics,
        headline=headline,
        headline_css=css,
        # The split check has its own block above everything; its note would repeat it.
        notes=tuple(
            str(n)
            for n in analysis.get("notes", ())
            if not (srm.mismatch and str(n).startswith("sample ratio mismatch"))
        ),
    )
