"""Experiment statistics from sufficient statistics: pure math and numpy, no scipy.

Conventions: A is control, B the treatment; ``statistic`` and ``diff`` are positive when B is
higher. A result that is undefined (too few units, no variance at all) has ``p_value=None``
and a ``reason``; nothing returns NaN. Every figure is checked against scipy/statsmodels in
the tests.

* :func:`welch` -- Welch's unequal-variance t test and CI for ``mean_B - mean_A``.
* :func:`two_proportions` -- z test with the pooled standard error; Wald CI with the
  unpooled one.
* :func:`relative_lift` -- ``(mean_B - mean_A) / mean_A`` with a delta-method CI:
  ``Var ~= se_B**2 / mean_A**2 + mean_B**2 * se_A**2 / mean_A**4`` (independent groups).
* :func:`srm` -- sample ratio mismatch: chi-square of exposures against the weights.
* :func:`chance_to_beat` -- exact ``P(rate_B > rate_A)`` under Beta(1, 1) priors.
* :func:`chance_to_beat_normal` -- ``P(mean_B > mean_A)`` with normal posteriors
  ``N(mean, se**2)`` (flat prior): ``Phi(diff / sqrt(se_A**2 + se_B**2))``.
* :func:`chance_to_be_best` / :func:`chance_to_be_best_normal` -- across N variants.
* :func:`holm` -- Holm's step-down adjustment of several p-values.
* :func:`msprt` / :func:`msprt_proportions` -- always-valid p-values (mixture SPRT).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from promptvault.errors import InvalidInputError
from promptvault.experiments.distributions import (
    chi2_sf,
    lgamma_array,
    norm_cdf,
    norm_ppf,
    t_ppf,
    t_two_sided,
)

__all__ = [
    "SrmResult",
    "Summary",
    "TestResult",
    "chance_to_be_best",
    "chance_to_be_best_normal",
    "chance_to_beat",
    "chance_to_beat_normal",
    "holm",
    "msprt",
    "msprt_proportions",
    "relative_lift",
    "srm",
    "two_proportions",
    "welch",
]

SRM_THRESHOLD = 0.001
# A variance this small relative to the mean square is rounding noise from n, sum, sum_sq.
_ZERO_VARIANCE = 1e-12


@dataclass(frozen=True)
class Summary:
    """Sufficient statistics of one group: count, sum and sum of squares.

    Binary outcomes are 0/1 values, so ``sum`` is the number of successes. Precision: the
    variance is ``(sum_sq - sum**2 / n) / (n - 1)``, which loses digits only when
    ``|mean| / sd`` exceeds about 1e6.
    """

    n: int
    sum: float
    sum_sq: float

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int | np.integer) or self.n < 0:
            raise InvalidInputError("n must be an int >= 0", details={"field": "n"})
        for name in ("sum", "sum_sq"):
            value = getattr(self, name)
            if not isinstance(value, int | float | np.number) or not math.isfinite(value):
                raise InvalidInputError(f"{name} must be finite", details={"field": name})
        if self.sum_sq < 0:
            raise InvalidInputError("sum_sq must be >= 0", details={"field": "sum_sq"})

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        """Summarise raw values (exactly rounded sums)."""
        data = [float(v) for v in values]
        return cls(n=len(data), sum=math.fsum(data), sum_sq=math.fsum(v * v for v in data))

    def __add__(self, other: Summary) -> Summary:
        return Summary(self.n + other.n, self.sum + other.sum, self.sum_sq + other.sum_sq)

    @property
    def mean(self) -> float | None:
        """Sample mean; None when ``n == 0``."""
        return self.sum / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """Sample variance (ddof=1); None when ``n < 2``; 0 for constant data."""
        if self.n < 2:
            return None
        centred = self.sum_sq - self.sum * self.sum / self.n
        if centred <= _ZERO_VARIANCE * self.sum_sq:
            return 0.0
        return centred / (self.n - 1)

    @property
    def std_error(self) -> float | None:
        """Standard error of the mean; None when ``n < 2``."""
        var = self.variance
        return None if var is None else math.sqrt(var / self.n)


@dataclass(frozen=True)
class TestResult:
    """A two-group comparison (B minus A). Undefined: ``p_value`` None and a ``reason``."""

    method: str
    diff: float | None
    statistic: float | None = None
    p_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    df: float | None = None
    std_error: float | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class SrmResult:
    """Sample ratio mismatch: ``mismatch`` is True when ``p_value < 0.001``."""

    statistic: float | None
    df: int
    p_value: float | None
    mismatch: bool
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


def _check_level(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise InvalidInputError(
            "confidence must be between 0 and 1", details={"field": "confidence"}
        )
    return confidence


def welch(a: Summary, b: Summary, *, confidence: float = 0.95) -> TestResult:
    """Welch's t test of ``mean_B - mean_A`` with its ``confidence`` CI."""
    level = _check_level(confidence)
    diff = None if a.n == 0 or b.n == 0 else b.sum / b.n - a.sum / a.n
    if a.n < 2 or b.n < 2:
        return TestResult("welch", diff, reason="each group needs at least 2 observations")
    va, vb = a.variance, b.variance
    assert va is not None and vb is not None and diff is not None
    qa, qb = va / a.n, vb / b.n
    se = math.sqrt(qa + qb)
    if se == 0.0:
        return TestResult("welch", diff, reason="zero variance in both groups")
    t = diff / se
    df = (qa + qb) ** 2 / (qa * qa / (a.n - 1) + qb * qb / (b.n - 1))
    half = t_ppf(0.5 + level / 2, df) * se
    return TestResult(
        "welch",
        diff,
        statistic=t,
        p_value=t_two_sided(t, df),
        ci_low=diff - half,
        ci_high=diff + half,
        df=df,
        std_error=se,
    )


def _check_counts(successes: int, trials: int, field: str) -> None:
    for name, value in (("successes", successes), ("trials", trials)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise InvalidInputError(
                f"{name} must be an int >= 0", details={"field": f"{field}.{name}"}
            )
    if successes > trials:
        raise InvalidInputError(
            "successes cannot exceed trials", details={"field": f"{field}.successes"}
        )


def two_proportions(
    succ_a: int, n_a: int, succ_b: int, n_b: int, *, confidence: float = 0.95
) -> TestResult:
    """Two-proportion z test (pooled SE) and Wald CI (unpooled SE) for ``rate_B - rate_A``."""
    level = _check_level(confidence)
    _check_counts(succ_a, n_a, "a")
    _check_counts(succ_b, n_b, "b")
    if n_a == 0 or n_b == 0:
        return TestResult("two_proportions", None, reason="a group has no units")
    pa, pb = succ_a / n_a, succ_b / n_b
    diff = pb - pa
    pooled = (succ_a + succ_b) / (n_a + n_b)
    se_pooled = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b))
    if se_pooled == 0.0:
        return TestResult(
            "two_proportions", diff, reason="no variation: every outcome is identical"
        )
    z = diff / se_pooled
    se = math.sqrt(pa * (1.0 - pa) / n_a + pb * (1.0 - pb) / n_b)
    half = norm_ppf(0.5 + level / 2) * se
    return TestResult(
        "two_proportions",
        diff,
        statistic=z,
        p_value=math.erfc(abs(z) / math.sqrt(2.0)),
        ci_low=diff - half,
        ci_high=diff + half,
        std_error=se,
    )


def relative_lift(a: Summary, b: Summary, *, confidence: float = 0.95) -> TestResult:
    """``(mean_B - mean_A) / mean_A`` in ``.diff``, with a delta-method CI (module docstring)."""
    level = _check_level(confidence)
    if a.n < 2 or b.n < 2:
        return TestResult("relative_lift", None, reason="each group needs at least 2 observations")
    ma, mb = a.sum / a.n, b.sum / b.n
    if ma == 0.0:
        return TestResult("relative_lift", None, reason="control mean is zero")
    sa, sb = a.std_error, b.std_error
    assert sa is not None and sb is not None
    rel = (mb - ma) / ma
    se = math.sqrt(sb * sb / (ma * ma) + mb * mb * sa * sa / ma**4)
    half = norm_ppf(0.5 + level / 2) * se
    return TestResult("relative_lift", rel, ci_low=rel - half, ci_high=rel + half, std_error=se)


def srm(observed: Sequence[int], weights: Sequence[float]) -> SrmResult:
    """Chi-square goodness of fit of observed exposures to the configured weights."""
    if len(observed) != len(weights) or len(observed) < 2:
        raise InvalidInputError(
            "srm needs one weight per observed count and at least two variants",
            details={"field": "weights"},
        )
    counts = tuple(int(c) for c in observed)
    if any(c < 0 for c in counts) or any(not w >= 0 for w in weights) or sum(weights) <= 0:
        raise InvalidInputError("counts and weights must be >= 0", details={"field": "observed"})
    total = sum(counts)
    wsum = float(sum(weights))
    expected = tuple(total * w / wsum for w in weights)
    df = sum(1 for w in weights if w > 0) - 1
    if total == 0:
        return SrmResult(None, df, None, False, counts, expected, reason="no exposures yet")
    if any(e == 0 and c > 0 for c, e in zip(counts, expected, strict=True)):
        return SrmResult(
            None, df, 0.0, True, counts, expected, reason="exposures on a variant with weight 0"
        )
    stat = math.fsum((c - e) ** 2 / e for c, e in zip(counts, expected, strict=True) if e > 0)
    p = chi2_sf(stat, df) if df > 0 else 1.0
    return SrmResult(stat, df, p, p < SRM_THRESHOLD, counts, expected)


# --- Bayesian ----------------------------------------------------------------------------

_CHUNK = 1 << 20


def _beats(a1: int, b1: int, a2: int, b2: int) -> float:
    """``P(Y > X)`` for X ~ Beta(a1, b1), Y ~ Beta(a2, b2), integer a2 (Evan Miller's sum).

    ``sum_{i<a2} B(a1+i, b1+b2) / ((b2+i) B(1+i, b2) B(a1, b1))``, each term on the log
    scale with a vectorised log-gamma, in chunks to bound memory.
    """
    const = (
        math.lgamma(b1 + b2)
        - math.lgamma(b2)
        - (math.lgamma(a1) + math.lgamma(b1) - math.lgamma(a1 + b1))
    )
    total = 0.0
    for start in range(0, a2, _CHUNK):
        i = np.arange(start, min(a2, start + _CHUNK), dtype=np.float64)
        log_terms = (
            lgamma_array(a1 + i)
            - lgamma_array(a1 + b1 + b2 + i)
            - np.log(b2 + i)
            - lgamma_array(1.0 + i)
            + lgamma_array(1.0 + b2 + i)
            + const
        )
        total += float(np.exp(log_terms).sum())
    return total


def chance_to_beat(succ_a: int, n_a: int, succ_b: int, n_b: int) -> float:
    """Exact ``P(rate_B > rate_A)`` with Beta(1, 1) priors (error below 1e-8).

    Of the four equivalent closed forms (summing over either group's successes or
    failures) the shortest sum is used, so the cost is ``min`` of those four counts.
    """
    _check_counts(succ_a, n_a, "a")
    _check_counts(succ_b, n_b, "b")
    aa, ba = succ_a + 1, n_a - succ_a + 1
    ab, bb = succ_b + 1, n_b - succ_b + 1
    shortest = min(ab, aa, ba, bb)
    if shortest == ab:
        p = _beats(aa, ba, ab, bb)
    elif shortest == aa:
        p = 1.0 - _beats(ab, bb, aa, ba)
    elif shortest == ba:  # 1 - rate_A > 1 - rate_B
        p = _beats(bb, ab, ba, aa)
    else:
        p = 1.0 - _beats(ba, aa, bb, ab)
    return min(1.0, max(0.0, p))


def chance_to_beat_normal(a: Summary, b: Summary) -> float | None:
    """``P(mean_B > mean_A)`` with normal posteriors; None when either ``n < 2``."""
    sa, sb = a.std_error, b.std_error
    if sa is None or sb is None:
        return None
    diff = b.sum / b.n - a.sum / a.n
    se = math.hypot(sa, sb)
    if se == 0.0:
        return 0.5 if diff == 0 else float(diff > 0)
    return norm_cdf(diff / se)


def chance_to_be_best(
    successes: Sequence[int],
    trials: Sequence[int],
    *,
    draws: int = 200_000,
    seed: int = 0,
) -> tuple[float, ...]:
    """``P(variant k has the highest rate)`` under Beta(1, 1) priors.

    Two variants: exact (:func:`chance_to_beat`). More: Monte Carlo with ``draws`` draws
    from a generator seeded with ``seed`` (reproducible); the standard error of each figure
    is ``sqrt(p (1 - p) / draws)``, at most 0.0011 with the default 200,000 draws.
    """
    if len(successes) != len(trials) or not successes:
        raise InvalidInputError("one trial count per variant", details={"field": "trials"})
    for k, (s, n) in enumerate(zip(successes, trials, strict=True)):
        _check_counts(s, n, f"variants[{k}]")
    if len(successes) == 1:
        return (1.0,)
    if len(successes) == 2:
        p = chance_to_beat(successes[0], trials[0], successes[1], trials[1])
        return (1.0 - p, p)
    rng = np.random.default_rng(seed)
    samples = np.stack(
        [rng.beta(s + 1, n - s + 1, size=draws) for s, n in zip(successes, trials, strict=True)]
    )
    wins = np.bincount(np.argmax(samples, axis=0), minlength=len(successes))
    return tuple(float(w) / draws for w in wins)


def chance_to_be_best_normal(
    summaries: Sequence[Summary], *, points: int = 4001
) -> tuple[float, ...] | None:
    """``P(variant k has the highest mean)`` with normal posteriors ``N(mean, se**2)``.

    Numerical integration of ``pdf_k(x) * prod_{j != k} cdf_j(x)`` on ``mean_k +- 10 se_k``
    (Simpson's rule on ``points`` nodes; error below 1e-7 in the tests). None when any
    group has ``n < 2``.
    """
    means: list[float] = []
    ses: list[float] = []
    for s in summaries:
        se = s.std_error
        if se is None:
            return None
        means.append(s.sum / s.n)
        ses.append(se)
    if len(means) == 1:
        return (1.0,)
    if all(se == 0.0 for se in ses):
        best = max(means)
        winners = [m == best for m in means]
        return tuple(w / sum(winners) for w in winners)
    floor = 1e-12 * max(ses)  # a zero-variance group is a point mass: a near-step CDF
    scales = [max(se, floor) for se in ses]
    erfc = np.frompyfunc(math.erfc, 1, 1)
    z = np.linspace(-10.0, 10.0, points)
    weights = np.ones(points)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    weights *= (z[1] - z[0]) / 3.0
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    out = []
    for k, (mk, sk) in enumerate(zip(means, scales, strict=True)):
        x = mk + sk * z
        prod = np.ones(points)
        for j, (mj, sj) in enumerate(zip(means, scales, strict=True)):
            if j != k:
                prod *= 0.5 * np.asarray(erfc(-(x - mj) / (sj * math.sqrt(2.0))), dtype=np.float64)
        out.append(float(np.sum(weights * pdf * prod)))
    total = sum(out)
    return tuple(p / total for p in out)


# --- multiple comparisons and sequential testing -----------------------------------------


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values; None entries stay None and do not count."""
    defined = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(defined)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(defined):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def _msprt(
    diff: float,
    variance: float,
    scale_var: float,
    *,
    tau: float | None,
    alpha: float,
    previous_p: float | None,
) -> TestResult:
    tau2 = 0.01 * scale_var if tau is None else tau * tau
    if not tau2 > 0:
        return TestResult("msprt", diff, reason="mixing variance tau**2 must be positive")
    v = variance
    log_lr = 0.5 * math.log(v / (v + tau2)) + tau2 * diff * diff / (2.0 * v * (v + tau2))
    p = 1.0 if log_lr <= 0 else min(1.0, math.exp(-log_lr))
    if previous_p is not None:
        p = min(p, previous_p)
    radius = math.sqrt(
        2.0 * v * (v + tau2) / tau2 * (math.log(1.0 / alpha) + 0.5 * math.log((v + tau2) / v))
    )
    return TestResult(
        "msprt",
        diff,
        statistic=diff / math.sqrt(v),
        p_value=p,
        ci_low=diff - radius,
        ci_high=diff + radius,
        std_error=math.sqrt(v),
    )


def msprt(
    a: Summary,
    b: Summary,
    *,
    tau: float | None = None,
    alpha: float = 0.05,
    previous_p: float | None = None,
) -> TestResult:
    """Always-valid p-value for ``mean_B - mean_A`` (normal-mixture SPRT).

    The mixture likelihood ratio of Johari, Pekelis and Walsh ("Always valid inference",
    2017) for a difference estimated as ``N(theta, V)``, ``V = var_A/n_A + var_B/n_B``,
    with mixing distribution ``theta ~ N(0, tau**2)``::

        Lambda = sqrt(V / (V + tau**2)) * exp(tau**2 * diff**2 / (2 V (V + tau**2)))

    ``p = min(1, 1 / Lambda)``, and ``previous_p`` (the p of the last look) carries the
    running minimum, so ``p`` never increases and stopping whenever ``p < alpha`` keeps
    the false positive rate at most ``alpha`` however often one looks. The interval is
    the matching always-valid ``1 - alpha`` confidence sequence. ``tau`` defaults to 0.1
    pooled standard deviations (a small standardised effect); a larger ``tau`` favours
    detecting larger effects. ``V`` is estimated (plug-in), so validity is asymptotic.
    """
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError("alpha must be between 0 and 1", details={"field": "alpha"})
    diff = None if a.n == 0 or b.n == 0 else b.sum / b.n - a.sum / a.n
    if a.n < 2 or b.n < 2:
        return TestResult("msprt", diff, reason="each group needs at least 2 observations")
    va, vb = a.variance, b.variance
    assert va is not None and vb is not None and diff is not None
    v = va / a.n + vb / b.n
    if v == 0.0:
        return TestResult("msprt", diff, reason="zero variance in both groups")
    pooled = (va * (a.n - 1) + vb * (b.n - 1)) / (a.n + b.n - 2)
    return _msprt(diff, v, pooled, tau=tau, alpha=alpha, previous_p=previous_p)


def msprt_proportions(
    succ_a: int,
    n_a: int,
    succ_b: int,
    n_b: int,
    *,
    tau: float | None = None,
    alpha: float = 0.05,
    previous_p: float | None = None,
) -> TestResult:
    """:func:`msprt` for rates, with the normal approximation and pooled Bernoulli variance.

    ``V = p (1 - p) (1/n_A + 1/n_B)`` with the pooled rate ``p``; ``tau`` defaults to
    ``0.1 * sqrt(p (1 - p))``.
    """
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError("alpha must be between 0 and 1", details={"field": "alpha"})
    _check_counts(succ_a, n_a, "a")
    _check_counts(succ_b, n_b, "b")
    if n_a == 0 or n_b == 0:
        return TestResult("msprt", None, reason="a group has no units")
    diff = succ_b / n_b - succ_a / n_a
    pooled = (succ_a + succ_b) / (n_a + n_b)
    bern = pooled * (1.0 - pooled)
    if bern == 0.0:
        return TestResult("msprt", diff, reason="no variation: every outcome is identical")
    v = bern * (1.0 / n_a + 1.0 / n_b)
    return _msprt(diff, v, bern, tau=tau, alpha=alpha, previous_p=previous_p)
