"""Distribution functions for the experiment statistics, in pure Python (plus numpy arrays).

No scipy at run time: the normal distribution comes from ``math.erfc``; Student's t from the
regularized incomplete beta function (continued fraction, modified Lentz); chi-square from the
regularized incomplete gamma function (series / continued fraction); quantiles by safeguarded
Newton iterations. Every function is checked against scipy to 1e-6 or better in the tests,
including small degrees of freedom and extreme arguments.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "betainc",
    "chi2_sf",
    "gammaincc",
    "lgamma_array",
    "norm_cdf",
    "norm_ppf",
    "norm_sf",
    "t_cdf",
    "t_ppf",
    "t_sf",
    "t_two_sided",
]

_EPS = 1e-16
_TINY = 1e-300
_MAX_ITER = 100_000
_SQRT2 = math.sqrt(2.0)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def norm_cdf(x: float) -> float:
    """Standard normal CDF."""
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_sf(x: float) -> float:
    """Standard normal survival function ``1 - cdf``, accurate in the upper tail."""
    return 0.5 * math.erfc(x / _SQRT2)


def norm_ppf(p: float) -> float:
    """Standard normal quantile: Newton on ``log cdf`` (exact to a few ulps)."""
    if not 0.0 < p < 1.0:
        if p == 0.0:
            return -math.inf
        if p == 1.0:
            return math.inf
        raise ValueError(f"probability {p!r} outside [0, 1]")
    if p > 0.5:
        return -norm_ppf(1.0 - p)
    if p == 0.5:
        return 0.0
    # Solve log(cdf(x)) = log(p) for x < 0: on the log scale Newton converges from any start
    # in the lower half-line, with the tail asymptote as a close first guess.
    target = math.log(p)
    x = -math.sqrt(-2.0 * target) if p < 0.3 else -0.5
    for _ in range(100):
        cdf = norm_cdf(x)
        log_pdf = -0.5 * x * x - _HALF_LOG_2PI
        step = (math.log(cdf) - target) / math.exp(log_pdf - math.log(cdf))
        x -= step
        if abs(step) <= 1e-15 * max(1.0, abs(x)):
            break
    return x


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITER):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def betainc(a: float, b: float, x: float, y: float | None = None) -> float:
    """Regularized incomplete beta ``I_x(a, b)``; pass ``y = 1 - x`` when known exactly."""
    if y is None:
        y = 1.0 - x
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    )
    front = math.exp(log_front)
    # The continued fraction converges fast on this side of the mean; use the symmetry
    # I_x(a, b) = 1 - I_y(b, a) on the other.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, y) / b


def t_two_sided(t: float, df: float) -> float:
    """``P(|T| >= |t|)`` for Student's t with ``df`` degrees of freedom."""
    t2 = t * t
    return betainc(0.5 * df, 0.5, df / (df + t2), t2 / (df + t2))


def t_sf(t: float, df: float) -> float:
    """Student's t survival function ``P(T > t)``."""
    tail = 0.5 * t_two_sided(t, df)
    return tail if t >= 0 else 1.0 - tail


def t_cdf(t: float, df: float) -> float:
    """Student's t CDF ``P(T <= t)``."""
    return t_sf(-t, df)


def _t_log_pdf(t: float, df: float) -> float:
    return (
        math.lgamma(0.5 * (df + 1.0))
        - math.lgamma(0.5 * df)
        - 0.5 * math.log(df * math.pi)
        - 0.5 * (df + 1.0) * math.log1p(t * t / df)
    )


def t_ppf(p: float, df: float) -> float:
    """Student's t quantile: Newton on the upper tail, kept inside a shrinking bracket."""
    if not 0.0 < p < 1.0:
        if p in (0.0, 1.0):
            return -math.inf if p == 0.0 else math.inf
        raise ValueError(f"probability {p!r} outside [0, 1]")
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    if p == 0.5:
        return 0.0
    q = 1.0 - p  # the upper tail we solve for, t > 0
    lo, hi = 0.0, math.inf
    z = norm_ppf(p)
    # Cornish-Fisher start; the bracket and bisection fallback make any start safe.
    x = z + (z**3 + z) / (4.0 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96.0 * df * df)
    if not x > 0.0 or not math.isfinite(x):
        x = 1.0
    for _ in range(500):
        f = t_sf(x, df) - q  # decreasing in x
        if f > 0:
            lo = x
        else:
            hi = x
        step = f / math.exp(_t_log_pdf(x, df))
        new = x + step
        if not lo < new < hi:
            new = 0.5 * (lo + hi) if math.isfinite(hi) else 2.0 * x
        if abs(new - x) <= 1e-14 * max(1.0, abs(new)):
            return new
        x = new
    return x


def gammaincc(s: float, x: float) -> float:
    """Regularized upper incomplete gamma ``Q(s, x)``."""
    if x <= 0.0:
        return 1.0
    log_front = -x + s * math.log(x) - math.lgamma(s)
    if x < s + 1.0:
        # Series for P(s, x); Q = 1 - P is not in its far tail on this side.
        ap, term = s, 1.0 / s
        total = term
        for _ in range(_MAX_ITER):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * _EPS:
                return 1.0 - total * math.exp(log_front)
        raise ArithmeticError(f"incomplete gamma series did not converge for s={s}, x={x}")
    # Continued fraction for Q(s, x) (modified Lentz).
    b = x + 1.0 - s
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - s)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = b + an / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return math.exp(log_front) * h
    raise ArithmeticError(f"incomplete gamma fraction did not converge for s={s}, x={x}")


def chi2_sf(x: float, df: float) -> float:
    """Chi-square survival function ``P(X > x)``."""
    return gammaincc(0.5 * df, 0.5 * x)


def lgamma_array(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``log Gamma`` element-wise for ``x > 0`` (Stirling's series above 16, else math)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    small = x < 16.0
    if small.any():
        out[small] = [math.lgamma(v) for v in x[small].tolist()]
    big = ~small
    z = x[big]
    zi = 1.0 / z
    zi2 = zi * zi
    # Terms to z**-9; the next one is below 1e-16 for z >= 16.
    series = zi * (
        1.0 / 12 - zi2 * (1.0 / 360 - zi2 * (1.0 / 1260 - zi2 * (1.0 / 1680 - zi2 / 1188)))
    )
    out[big] = (z - 0.5) * np.log(z) - z + _HALF_LOG_2PI + series
    return out
