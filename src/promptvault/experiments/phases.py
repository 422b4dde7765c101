"""Analysis by phase: how a report stays unbiased when an experiment's weights change (pure).

A *phase* is one weight epoch: the weights from one change (create, ramp, bandit
reallocation) to the next. Every path -- ``vault.get``, the server and the SDK -- serves
a unit the variant its bucket has under the weights in force *now*, so a ramp from 90/10 to
50/50 moves the control units of the buckets between the old and the new boundary to the
treatment. Counting those units as control (the variant of their first exposure) dilutes
the effect, and counting them as treatment mixes two treatments; pooling phases whose
weights differ confounds the lift with whatever changed over time (Simpson's paradox).

The rule, applied on every report of an experiment with more than one phase:

1. A unit belongs to the phase of its first exposure (the ingestion stores it with its
   bucket) and counts for the variant it was first served.
2. A unit counts only while every later phase serves its bucket the same variant; units
   whose bucket a later phase moved are left out, *whether or not they came back*.
   Which buckets move depends only on the weights and the hash, never on outcomes, so the
   units that remain in a phase are a random subset of each arm and comparisons inside a
   phase stay unbiased.
3. The lift is estimated in each phase and the phases are combined with fixed weights
   ``n_c * n_t / (n_c + n_t)`` (Cochran-Mantel-Haenszel style: they depend on counts only,
   not on outcomes, so the combination is unbiased when the lift is constant and a
   weighted average of the phase lifts otherwise). Its variance is
   ``sum(w**2 * var_phase) / sum(w)**2``; the fixed mode uses the normal interval, the
   sequential mode the mixture-SPRT confidence sequence of that estimate.

The same rule makes a bandit's report valid (:mod:`.bandit` changes weights on a schedule):
within a phase the allocation is fixed, so each phase is an ordinary randomised comparison,
and the estimate is stratified by period.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from promptvault.experiments import stats
from promptvault.experiments.assignment import BUCKETS, layout
from promptvault.experiments.distributions import norm_ppf, norm_sf
from promptvault.experiments.stats import Summary, TestResult

__all__ = [
    "METHOD",
    "PhaseData",
    "kept_variant",
    "phase_data",
    "stratified",
    "stratified_test",
]

METHOD = "stratified by phase"

Floats = NDArray[np.float64]


def kept_variant(history: Sequence[Sequence[float]]) -> NDArray[np.int64]:
    """``(phases, BUCKETS)``: the variant a unit first exposed in phase ``e`` with bucket
    ``b`` counts for, or -1 when a later phase serves that bucket another variant."""
    tables = np.array([layout(w) for w in history], dtype=np.int64).reshape(-1, BUCKETS)
    kept = tables.copy()
    for e in range(len(tables) - 2, -1, -1):
        kept[e] = np.where(kept[e + 1] == tables[e], tables[e], -1)
    return kept


@dataclass(frozen=True)
class PhaseData:
    """Per phase and variant, what the by-phase analysis counts.

    ``units[e][v]`` units kept, ``left_out`` units left out (their bucket moved later),
    ``metrics[name][e][v]`` a :class:`Summary` of the kept units' outcomes.
    """

    units: tuple[tuple[int, ...], ...]
    left_out: int
    metrics: Mapping[str, tuple[tuple[Summary, ...], ...]]

    def pooled(self, metric: str) -> tuple[Summary, ...]:
        """Per variant, the kept outcomes of every phase added up."""
        rows = self.metrics.get(metric, ())
        variants = len(self.units[0]) if self.units else 0
        out = [Summary(0, 0.0, 0.0)] * variants
        for row in rows:
            out = [a + b for a, b in zip(out, row, strict=True)]
        return tuple(out)


def phase_data(
    history: Sequence[Sequence[float]],
    units: Sequence[tuple[int, int, int, int]],
    outcomes: Sequence[tuple[int, int, int, str, int, float, float]],
    metrics: Sequence[str],
) -> PhaseData:
    """Apply the rule to grouped rows (see :func:`promptvault.storage.experiments.phase_stats`).

    ``history[e]`` are phase ``e``'s weights; rows of a phase without weights are left out.
    """
    kept = kept_variant(history)
    phases, variants = len(history), len(history[0])
    counts = [[0] * variants for _ in range(phases)]
    left_out = 0
    for e, v, b, n in units:
        if 0 <= e < phases and 0 <= b < BUCKETS and kept[e, b] == v:
            counts[e][v] += n
        else:
            left_out += n
    sums = {m: [[[0, 0.0, 0.0] for _ in range(variants)] for _ in range(phases)] for m in metrics}
    for e, v, b, m, n, s, sq in outcomes:
        table = sums.get(m)
        if table is None or not (0 <= e < phases and 0 <= b < BUCKETS) or kept[e, b] != v:
            continue
        cell = table[e][v]
        cell[0] += n
        cell[1] += s
        cell[2] += sq
    return PhaseData(
        units=tuple(tuple(row) for row in counts),
        left_out=left_out,
        metrics={
            m: tuple(
                tuple(Summary(int(c[0]), float(c[1]), max(0.0, float(c[2]))) for c in row)
                for row in table
            )
            for m, table in sums.items()
        },
    )


def stratified(
    control: tuple[Floats, Floats, Floats],
    treated: tuple[Floats, Floats, Floats],
    *,
    binary: bool,
) -> tuple[Floats, Floats]:
    """The combined lift and its variance from per-phase ``(n, sum, sum_sq)`` arrays.

    The last axis is the phase; leading axes (many simulated experiments at once) are kept.
    Phases where an arm has fewer than 2 values get weight 0. Where no phase counts, the
    lift and variance are NaN.
    """
    n_c, s_c, q_c = (np.asarray(x, dtype=np.float64) for x in control)
    n_t, s_t, q_t = (np.asarray(x, dtype=np.float64) for x in treated)
    usable = (n_c >= 2) & (n_t >= 2)
    safe_c, safe_t = np.where(usable, n_c, 2.0), np.where(usable, n_t, 2.0)
    m_c, m_t = s_c / safe_c, s_t / safe_t
    if binary:
        v_c, v_t = m_c * (1 - m_c), m_t * (1 - m_t)
    else:
        v_c = np.maximum(0.0, (q_c - s_c * m_c) / (safe_c - 1))
        v_t = np.maximum(0.0, (q_t - s_t * m_t) / (safe_t - 1))
    w = np.where(usable, safe_c * safe_t / (safe_c + safe_t), 0.0)
    total = w.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = (w * (m_t - m_c)).sum(axis=-1) / total
        var = (w * w * (v_c / safe_c + v_t / safe_t)).sum(axis=-1) / (total * total)
    return diff, var


def _arrays(rows: Sequence[Summary]) -> tuple[Floats, Floats, Floats]:
    return (
        np.array([r.n for r in rows], dtype=np.float64),
        np.array([r.sum for r in rows], dtype=np.float64),
        np.array([r.sum_sq for r in rows], dtype=np.float64),
    )


def stratified_test(
    kind: str,
    control: Sequence[Summary],
    treated: Sequence[Summary],
    *,
    mode: str,
    alpha: float,
    tau: float | None = None,
    previous_p: float | None = None,
) -> TestResult:
    """``treated - control`` combined over phases (one :class:`Summary` per phase each)."""
    diff_a, var_a = stratified(_arrays(control), _arrays(treated), binary=kind == "binary")
    diff, var = float(diff_a), float(var_a)
    if math.isnan(diff):
        return TestResult(METHOD, None, reason="no phase has 2 values in both groups")
    if not var > 0:
        return TestResult(METHOD, diff, reason="zero variance in every phase")
    if mode == "sequential":
        pooled = sum(control, Summary(0, 0.0, 0.0)) + sum(treated, Summary(0, 0.0, 0.0))
        if kind == "binary":
            p = pooled.sum / pooled.n
            scale = p * (1 - p)
        else:
            scale = pooled.variance or var
        result = stats._msprt(diff, var, scale, tau=tau, alpha=alpha, previous_p=previous_p)
        return TestResult(
            f"{METHOD} (msprt)",
            result.diff,
            statistic=result.statistic,
            p_value=result.p_value,
            ci_low=result.ci_low,
            ci_high=result.ci_high,
            std_error=result.std_error,
            reason=result.reason,
        )
    se = math.sqrt(var)
    z = diff / se
    half = norm_ppf(1 - alpha / 2) * se
    return TestResult(
        METHOD,
        diff,
        statistic=z,
        p_value=min(1.0, 2 * norm_sf(abs(z))),
        ci_low=diff - half,
        ci_high=diff + half,
        std_error=se,
    )
