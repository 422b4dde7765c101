"""Paired tests for two runs over the same cases (pure: math and numpy only).

* Pass/fail: McNemar's exact test, i.e. a two-sided binomial test with p = 1/2 on the
  discordant pairs (cases that pass in one run only).
* Scores: the Wilcoxon signed-rank test on the paired differences (zeros dropped); exact
  null distribution for up to 50 differences without ties, the normal approximation with
  tie correction otherwise (what SciPy's ``wilcoxon`` computes with ``method="exact"`` and
  ``"asymptotic"``).
* Confidence intervals of the mean paired difference by the percentile bootstrap over
  cases (seeded, so a comparison is reproducible).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

__all__ = [
    "BOOTSTRAP_SAMPLES",
    "WilcoxonResult",
    "binomial_two_sided",
    "bootstrap_ci",
    "mcnemar_exact",
    "min_pairs_for",
    "wilcoxon",
]

BOOTSTRAP_SAMPLES = 4000
EXACT_MAX = 50


def binomial_two_sided(k: int, n: int) -> float:
    """Two-sided exact binomial p-value of ``k`` successes in ``n`` trials at p = 1/2."""
    if n == 0:
        return 1.0
    low = min(k, n - k)
    if 2 * low == n:
        return 1.0
    # Sum in log space so that large n neither overflows nor loses the tail.
    logs = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2)
        for i in range(low + 1)
    ]
    top = max(logs)
    tail = math.exp(top) * sum(math.exp(v - top) for v in logs)
    return min(1.0, 2.0 * tail)


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """McNemar's exact p-value from the two discordant counts."""
    return binomial_two_sided(min(a_only, b_only), a_only + b_only)


class WilcoxonResult(NamedTuple):
    """The signed-rank statistic (the smaller rank sum), p-value, pairs used, and method."""

    statistic: float
    p_value: float
    n: int
    method: str


def _ranks(values: Sequence[float]) -> tuple[list[float], bool]:
    """Average ranks (1-based) of ``values`` and whether any tie occurred."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties = False
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        if j > i:
            ties = True
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks, ties


def _exact_cdf(n: int, statistic: float) -> float:
    """P(W+ <= statistic) under the null, for ranks 1..n without ties."""
    top = n * (n + 1) // 2
    counts = [0] * (top + 1)
    counts[0] = 1
    for rank in range(1, n + 1):
        for s in range(top, rank - 1, -1):
            counts[s] += counts[s - rank]
    return float(sum(counts[: math.floor(statistic) + 1])) / float(2**n)


def wilcoxon(differences: Sequence[float]) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of paired differences (zeros dropped)."""
    d = [float(x) for x in differences if x != 0]
    n = len(d)
    if n == 0:
        return WilcoxonResult(0.0, 1.0, 0, "exact")
    ranks, ties = _ranks([abs(x) for x in d])
    plus = sum(r for r, x in zip(ranks, d, strict=True) if x > 0)
    minus = sum(r for r, x in zip(ranks, d, strict=True) if x < 0)
    statistic = min(plus, minus)
    if n <= EXACT_MAX and not ties:
        return WilcoxonResult(statistic, min(1.0, 2 * _exact_cdf(n, statistic)), n, "exact")
    mean = n * (n + 1) / 4
    var = n * (n + 1) * (2 * n + 1) / 24
    _, counts = np.unique(np.abs(np.asarray(d)), return_counts=True)
    var -= float(np.sum(counts**3 - counts)) / 48
    if var <= 0:
        return WilcoxonResult(statistic, 1.0, n, "asymptotic")
    z = (statistic - mean) / math.sqrt(var)
    return WilcoxonResult(statistic, min(1.0, 2 * NormalDist().cdf(z)), n, "asymptotic")


def bootstrap_ci(
    differences: Sequence[float], *, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of paired differences."""
    values = np.asarray(differences, dtype=float)
    if values.size == 0:
        return (0.0, 0.0)
    if values.size == 1 or np.all(values == values[0]):
        return (float(values[0]), float(values[0]))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, values.size, size=(BOOTSTRAP_SAMPLES, values.size))
    means = values[picks].mean(axis=1)
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return (float(low), float(high))


def min_pairs_for(alpha: float) -> int:
    """The fewest pairs with which either test can reach ``alpha`` at all (2 / 2**n)."""
    n = 1
    while 2.0 / 2**n > alpha:
        n += 1
    return n
