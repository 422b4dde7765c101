"""Statistics: every figure against scipy/statsmodels (or an independent computation)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, special
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from promptvault.errors import InvalidInputError
from promptvault.experiments import distributions as dist
from promptvault.experiments import stats
from promptvault.experiments.analysis import MetricData, analyse

TOL = 1e-6


def close(ours: float | None, ref: float, tol: float = TOL) -> bool:
    """Within ``tol`` relative, or absolutely for values below 1 (p-values, CDFs)."""
    assert ours is not None
    return abs(ours - ref) <= tol * max(1.0, abs(ref))


def rel_close(ours: float, ref: float, tol: float = TOL) -> bool:
    """Relative agreement, for tail probabilities far below 1."""
    return abs(ours - ref) <= tol * abs(ref) + 1e-300


# --- distributions -------------------------------------------------------------------------

DFS = [0.5, 1, 1.5, 2, 3, 4.7, 10, 29.5, 100, 1e3, 1e5, 1e6, 1e7]


def test_normal_against_scipy() -> None:
    rng = np.random.default_rng(1)
    for x in [*rng.normal(0, 3, 200), 0.0, 8.0, -8.0, 37.0, -37.0]:
        assert close(dist.norm_cdf(x), sps.norm.cdf(x))
        assert rel_close(dist.norm_sf(x), sps.norm.sf(x))
    for p in [*rng.uniform(0, 1, 300), 1e-300, 1e-100, 1e-12, 0.025, 0.5, 0.975, 1 - 1e-12]:
        assert close(dist.norm_ppf(p), sps.norm.ppf(p), 1e-9)
    assert dist.norm_ppf(0.0) == -math.inf and dist.norm_ppf(1.0) == math.inf


def test_student_t_against_scipy() -> None:
    for df in DFS:
        for t in [0.0, 1e-9, 0.05, 0.7, 1.0, 1.96, 3.0, 6.0, 15.0, 80.0, 1e4, -2.5, -40.0]:
            assert close(dist.t_cdf(t, df), sps.t.cdf(t, df))
            assert rel_close(dist.t_sf(t, df), sps.t.sf(t, df), 1e-6)
            assert rel_close(dist.t_two_sided(t, df), 2 * sps.t.sf(abs(t), df), 1e-6)
        for p in [1e-10, 0.001, 0.025, 0.3, 0.5, 0.8, 0.975, 0.995, 1 - 1e-9]:
            assert close(dist.t_ppf(p, df), sps.t.ppf(p, df)), (p, df)


def test_chi_square_and_gamma_against_scipy() -> None:
    for df in [1, 2, 3, 4, 7, 10, 30, 99, 250]:
        for x in [0.0, 1e-6, 0.1, 0.5, 1.0, 2.0, 5.0, 12.0, 40.0, 150.0, 600.0, 2000.0]:
            assert rel_close(dist.chi2_sf(x, df), sps.chi2.sf(x, df)), (x, df)
    rng = np.random.default_rng(2)
    for s, x in zip(rng.lognormal(0, 2, 300), rng.lognormal(0, 2, 300), strict=True):
        assert rel_close(dist.gammaincc(s, x), special.gammaincc(s, x), 1e-6)


def test_incomplete_beta_against_scipy() -> None:
    rng = np.random.default_rng(3)
    cases = [
        (a, b, x)
        for a, b, x in zip(
            rng.lognormal(0.5, 2.0, 400),
            rng.lognormal(0.5, 2.0, 400),
            rng.uniform(0, 1, 400),
            strict=True,
        )
    ]
    cases += [(0.5, 0.5, 1e-12), (5e5, 0.5, 0.999), (0.5, 5e5, 1e-6), (1, 1, 0.3)]
    for a, b, x in cases:
        assert close(dist.betainc(a, b, x), special.betainc(a, b, x)), (a, b, x)
    assert dist.betainc(2, 3, 0.0) == 0.0 and dist.betainc(2, 3, 1.0) == 1.0


def test_lgamma_array_against_scipy() -> None:
    x = np.concatenate([np.linspace(0.01, 40, 500), np.logspace(1, 9, 200)])
    ours = dist.lgamma_array(x)
    ref = special.gammaln(x)
    assert np.all(np.abs(ours - ref) <= 1e-12 * np.maximum(1, np.abs(ref)))


# --- summaries and frequentist tests --------------------------------------------------------


def test_summary() -> None:
    values = [4.0, 5.0, 3.5]
    s = stats.Summary.of(values)
    assert (s.n, s.sum, s.sum_sq) == (3, 12.5, 53.25)
    assert close(s.mean, np.mean(values))
    assert close(s.variance, np.var(values, ddof=1))
    assert close(s.std_error, sps.sem(values))
    assert stats.Summary(n=0, sum=0, sum_sq=0).mean is None
    assert stats.Summary.of([2.0]).variance is None
    assert stats.Summary.of([0.1] * 7).variance == 0.0  # rounding noise is not variance
    assert (stats.Summary.of([1, 2]) + stats.Summary.of([3])) == stats.Summary.of([1, 2, 3])
    with pytest.raises(InvalidInputError):
        stats.Summary(n=-1, sum=0, sum_sq=0)
    with pytest.raises(InvalidInputError):
        stats.Summary(n=2, sum=float("nan"), sum_sq=1)


def _datasets(count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        na, nb = rng.integers(2, 60, size=2)
        scale_a, scale_b = rng.lognormal(0, 1.5, size=2)
        shift = rng.normal(0, 1)
        a = rng.normal(10, scale_a, size=na)
        b = rng.normal(10 + shift, scale_b, size=nb)
        out.append((a, b))
    # Large samples and skewed data (latencies) too.
    out.append((rng.exponential(2.0, 5000), rng.exponential(2.1, 7000)))
    out.append((rng.normal(0, 1, 2), rng.normal(100, 50, 3)))
    return out


def test_welch_against_scipy() -> None:
    for a, b in _datasets(80, 4):
        ours = stats.welch(stats.Summary.of(a), stats.Summary.of(b))
        ref = sps.ttest_ind(b, a, equal_var=False)
        ci = ref.confidence_interval(0.95)
        assert close(ours.statistic, ref.statistic)
        assert close(ours.p_value, ref.pvalue)
        assert close(ours.df, ref.df)
        assert close(ours.diff, b.mean() - a.mean())
        assert close(ours.ci_low, ci.low) and close(ours.ci_high, ci.high)
    r99 = stats.welch(stats.Summary.of(a), stats.Summary.of(b), confidence=0.99)
    ci99 = sps.ttest_ind(b, a, equal_var=False).confidence_interval(0.99)
    assert close(r99.ci_low, ci99.low) and close(r99.ci_high, ci99.high)


def test_welch_sign_and_undefined_cases() -> None:
    low, high = stats.Summary.of([1, 2, 3, 2]), stats.Summary.of([5, 6, 7, 6])
    assert stats.welch(low, high).statistic > 0 and stats.welch(low, high).diff == 4
    assert stats.welch(high, low).statistic < 0
    tiny = stats.welch(stats.Summary.of([1.0]), high)
    assert tiny.p_value is None and tiny.statistic is None and "at least 2" in tiny.reason
    flat = stats.welch(stats.Summary.of([3, 3, 3]), stats.Summary.of([4, 4]))
    assert flat.p_value is None and flat.reason == "zero variance in both groups"
    assert flat.diff == 1
    empty = stats.welch(stats.Summary(0, 0, 0), high)
    assert empty.p_value is None and empty.diff is None
    one_flat = stats.welch(stats.Summary.of([3, 3, 3]), stats.Summary.of([4, 5, 6]))
    # One constant group: t = diff / sqrt(var_b / n_b) with n_b - 1 degrees of freedom.
    t = 2.0 / math.sqrt(1.0 / 3)
    assert close(one_flat.p_value, 2 * sps.t.sf(t, 2)) and close(one_flat.df, 2)


def test_two_proportions_against_statsmodels() -> None:
    rng = np.random.default_rng(5)
    cases = [(3, 10, 7, 12), (0, 50, 4, 60), (100, 100, 97, 100), (1200, 20000, 1310, 20500)]
    for _ in range(60):
        na, nb = rng.integers(5, 5000, size=2)
        cases.append((int(rng.binomial(na, 0.3)), int(na), int(rng.binomial(nb, 0.33)), int(nb)))
    for sa, na, sb, nb in cases:
        ours = stats.two_proportions(sa, na, sb, nb)
        z, p = proportions_ztest([sb, sa], [nb, na])
        low, high = confint_proportions_2indep(sb, nb, sa, na, method="wald", compare="diff")
        assert close(ours.statistic, z) and close(ours.p_value, p)
        assert close(ours.diff, sb / nb - sa / na)
        assert close(ours.ci_low, low) and close(ours.ci_high, high)


def test_two_proportions_undefined_and_bad_input() -> None:
    assert stats.two_proportions(0, 0, 1, 10).reason == "a group has no units"
    same = stats.two_proportions(0, 10, 0, 20)
    assert same.p_value is None and "identical" in same.reason
    for args in [(5, 3, 1, 10), (-1, 3, 1, 10), (1.5, 3, 1, 10)]:
        with pytest.raises(InvalidInputError):
            stats.two_proportions(*args)  # type: ignore[arg-type]


def test_relative_lift_delta_method() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(10, 2, 400), rng.normal(10.5, 3, 300)
    ours = stats.relative_lift(stats.Summary.of(a), stats.Summary.of(b))
    # Independent computation: the delta method with a numerical gradient of f = mb/ma - 1.
    ma, mb = a.mean(), b.mean()
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    h = 1e-6
    da = ((mb / (ma + h) - 1) - (mb / (ma - h) - 1)) / (2 * h)
    db = (((mb + h) / ma - 1) - ((mb - h) / ma - 1)) / (2 * h)
    se = math.sqrt(da * da * va + db * db * vb)
    z = sps.norm.ppf(0.975)
    assert close(ours.diff, mb / ma - 1)
    assert close(ours.ci_low, mb / ma - 1 - z * se, 1e-5)
    assert close(ours.ci_high, mb / ma - 1 + z * se, 1e-5)
    zero = stats.relative_lift(stats.Summary.of([0, 0, 0]), stats.Summary.of([1, 2]))
    assert zero.diff is None and zero.reason == "control mean is zero"


def test_srm_against_scipy() -> None:
    for observed, weights in [
        ([9012, 988], [0.9, 0.1]),
        ([5000, 5100], [1, 1]),
        ([3300, 3350, 3300], [1, 1, 1]),
        ([500, 620, 300, 80], [0.4, 0.4, 0.15, 0.05]),
    ]:
        ours = stats.srm(observed, weights)
        total = sum(observed)
        ref = sps.chisquare(observed, [total * w / sum(weights) for w in weights])
        assert close(ours.statistic, ref.statistic) and close(ours.p_value, ref.pvalue)
        assert ours.mismatch == bool(ref.pvalue < 0.001)
    assert stats.srm([9012, 988], [0.9, 0.1]).mismatch is False
    broken = stats.srm([9500, 500], [0.9, 0.1])
    assert broken.mismatch is True and broken.p_value < 1e-10
    none = stats.srm([0, 0], [0.5, 0.5])
    assert none.p_value is None and none.reason == "no exposures yet" and not none.mismatch
    assert stats.srm([10, 3], [1, 0]).mismatch is True


# --- Bayesian --------------------------------------------------------------------------------


def _beta_beats(sa: int, na: int, sb: int, nb: int) -> float:
    a = sps.beta(sa + 1, na - sa + 1)
    b = sps.beta(sb + 1, nb - sb + 1)
    lo = min(a.ppf(1e-15), b.ppf(1e-15))
    hi = max(a.isf(1e-15), b.isf(1e-15))
    value, _ = integrate.quad(
        lambda x: b.pdf(x) * a.cdf(x),
        lo,
        hi,
        points=sorted({a.mean(), b.mean()}),
        limit=400,
        epsabs=1e-12,
        epsrel=1e-12,
    )
    return float(value)


def test_chance_to_beat_against_numerical_integration() -> None:
    rng = np.random.default_rng(7)
    cases = [
        (0, 0, 0, 0),
        (0, 10, 0, 10),
        (10, 10, 10, 10),
        (0, 10, 10, 10),
        (1, 10, 3, 10),
        (50, 1000, 70, 1000),
        (990, 1000, 995, 1000),
        (5, 20000, 9, 20000),
        (30000, 300000, 30400, 300000),
    ]
    for _ in range(25):
        na, nb = rng.integers(1, 3000, size=2)
        cases.append((int(rng.integers(0, na + 1)), int(na), int(rng.integers(0, nb + 1)), int(nb)))
    for case in cases:
        assert abs(stats.chance_to_beat(*case) - _beta_beats(*case)) < TOL, case
    assert stats.chance_to_beat(10, 100, 20, 100) > 0.95
    both = stats.chance_to_beat(10, 100, 20, 100) + stats.chance_to_beat(20, 100, 10, 100)
    assert abs(both - 1) < 1e-12


def test_chance_to_beat_normal() -> None:
    a, b = stats.Summary.of([1, 2, 3, 4]), stats.Summary.of([2, 3, 4, 6])
    expected = sps.norm.cdf((b.mean - a.mean) / math.hypot(a.std_error, b.std_error))
    assert close(stats.chance_to_beat_normal(a, b), expected)
    assert stats.chance_to_beat_normal(stats.Summary.of([1]), b) is None


def test_chance_to_be_best() -> None:
    two = stats.chance_to_be_best([10, 14], [100, 100])
    p = stats.chance_to_beat(10, 100, 14, 100)
    assert two == (1 - p, p)
    succ, trials = [30, 36, 41], [300, 300, 310]
    ours = stats.chance_to_be_best(succ, trials, seed=3)
    assert ours == stats.chance_to_be_best(succ, trials, seed=3)  # reproducible
    assert abs(sum(ours) - 1) < 1e-12
    dists = [sps.beta(s + 1, n - s + 1) for s, n in zip(succ, trials, strict=True)]
    for k in range(3):
        ref, _ = integrate.quad(
            lambda x, k=k: (
                dists[k].pdf(x) * np.prod([d.cdf(x) for j, d in enumerate(dists) if j != k])
            ),
            0,
            1,
            points=[d.mean() for d in dists],
            limit=200,
        )
        assert abs(ours[k] - ref) < 0.005  # Monte Carlo: 4.5 standard errors at 200k draws


def test_chance_to_be_best_normal_against_integration() -> None:
    rng = np.random.default_rng(8)
    groups = [stats.Summary.of(rng.normal(m, s, 50)) for m, s in [(10, 2), (10.4, 3), (10.2, 0.5)]]
    ours = stats.chance_to_be_best_normal(groups)
    assert ours is not None
    params = [(g.mean, g.std_error) for g in groups]
    for k, (mk, sk) in enumerate(params):
        ref, _ = integrate.quad(
            lambda x, mk=mk, sk=sk, k=k: (
                sps.norm.pdf(x, mk, sk)
                * np.prod([sps.norm.cdf(x, m, s) for j, (m, s) in enumerate(params) if j != k])
            ),
            mk - 12 * sk,
            mk + 12 * sk,
            epsabs=1e-12,
        )
        assert abs(ours[k] - ref) < TOL
    assert stats.chance_to_be_best_normal([groups[0], stats.Summary.of([1])]) is None


# --- multiple comparisons and sequential testing ---------------------------------------------


def test_holm_against_statsmodels() -> None:
    rng = np.random.default_rng(9)
    for size in [1, 2, 3, 5, 10]:
        for _ in range(3):  # multipletests itself is slow to call
            p = rng.uniform(0, 0.2, size)
            ref = multipletests(p, method="holm")[1]
            assert np.allclose(stats.holm(list(p)), ref, atol=1e-12)
    assert stats.holm([0.01, None, 0.04]) == [0.02, None, 0.04]


def test_msprt_matches_the_mixture_integral() -> None:
    rng = np.random.default_rng(10)
    a = stats.Summary.of(rng.normal(0, 1, 300))
    b = stats.Summary.of(rng.normal(0.2, 1.2, 280))
    tau = 0.15
    ours = stats.msprt(a, b, tau=tau)
    diff = b.mean - a.mean
    v = a.variance / a.n + b.variance / b.n
    # Lambda = integral of N(diff; theta, V) N(theta; 0, tau^2) dtheta / N(diff; 0, V).
    num, _ = integrate.quad(
        lambda th: sps.norm.pdf(diff, th, math.sqrt(v)) * sps.norm.pdf(th, 0, tau),
        -10 * tau,
        10 * tau,
        epsabs=0,
        epsrel=1e-12,
        limit=200,
    )
    lam = num / sps.norm.pdf(diff, 0, math.sqrt(v))
    assert close(ours.p_value, min(1.0, 1 / lam))
    # The confidence sequence is exactly where the mixture ratio reaches 1/alpha.
    for edge in (ours.ci_low, ours.ci_high):
        shifted = diff - edge
        lam_edge = math.sqrt(v / (v + tau**2)) * math.exp(
            tau**2 * shifted**2 / (2 * v * (v + tau**2))
        )
        assert close(lam_edge, 1 / 0.05)
    assert stats.msprt(a, b, tau=tau, previous_p=1e-4).p_value == 1e-4  # running minimum
    assert stats.msprt(stats.Summary.of([1]), b).reason is not None
    binary = stats.msprt_proportions(100, 1000, 140, 1000, tau=0.02)
    pooled = 240 / 2000
    vb = pooled * (1 - pooled) * (2 / 1000)
    lam_b = math.sqrt(vb / (vb + 0.02**2)) * math.exp(0.02**2 * 0.04**2 / (2 * vb * (vb + 0.02**2)))
    assert close(binary.p_value, 1 / lam_b)
    assert stats.msprt_proportions(0, 10, 0, 10).p_value is None


def test_sequential_p_values_survive_daily_peeking() -> None:
    # A/A experiments looked at 12 times: stopping at the first fixed-horizon p < 0.05
    # inflates false positives; the always-valid p keeps them at or below alpha.
    rng = np.random.default_rng(11)
    experiments, looks, per_look, alpha = 400, 12, 40, 0.05
    fixed_hits = sequential_hits = 0
    for _ in range(experiments):
        a = rng.normal(5, 2, size=(looks, per_look))
        b = rng.normal(5, 2, size=(looks, per_look))
        sa = np.cumsum(a.sum(axis=1))
        qa = np.cumsum((a * a).sum(axis=1))
        sb = np.cumsum(b.sum(axis=1))
        qb = np.cumsum((b * b).sum(axis=1))
        fixed = sequential = False
        previous = None
        for k in range(looks):
            n = (k + 1) * per_look
            ga = stats.Summary(n, float(sa[k]), float(qa[k]))
            gb = stats.Summary(n, float(sb[k]), float(qb[k]))
            fixed = fixed or stats.welch(ga, gb).p_value < alpha
            result = stats.msprt(ga, gb, previous_p=previous)
            previous = result.p_value
            sequential = sequential or previous < alpha
        fixed_hits += fixed
        sequential_hits += sequential
    fixed_rate = fixed_hits / experiments
    sequential_rate = sequential_hits / experiments
    assert sequential_rate <= alpha + 0.02
    assert fixed_rate >= 0.12  # about 0.2 with 12 looks
    assert fixed_rate > sequential_rate + 0.05


# --- the report ----------------------------------------------------------------------------


def _metrics(rng: np.random.Generator, names: list[str]) -> list[MetricData]:
    conv = {
        v: stats.Summary(n, float(s), float(s))
        for v, n, s in zip(names, [9000, 500, 520], [900, 70, 40], strict=False)
    }
    latency = {
        v: stats.Summary.of(rng.normal(m, 1.0, 200))
        for v, m in zip(names, [3.0, 2.6, 3.05], strict=False)
    }
    return [
        MetricData("converted", "binary", conv),
        MetricData("latency", "continuous", latency, direction="lower"),
    ]


def test_analyse_fixed_mode_report() -> None:
    rng = np.random.default_rng(12)
    names = ["control", "b", "c"]
    report = analyse(names, [9000, 500, 520], [0.9, 0.05, 0.05], _metrics(rng, names))
    assert report.mode == "fixed" and report.control == "control"
    assert report.srm.mismatch is False
    conv, latency = report.metrics
    b = conv.comparisons[0]
    ref = stats.two_proportions(900, 9000, 70, 500)
    assert (b.variant, b.diff, b.p_value) == ("b", ref.diff, ref.p_value)
    # Holm across the two treatments.
    raw = [c.p_value for c in conv.comparisons]
    assert [c.p_value_adjusted for c in conv.comparisons] == stats.holm(raw)
    assert b.chance_to_beat == stats.chance_to_beat(900, 9000, 70, 500)
    assert abs(sum(v.chance_to_be_best for v in conv.variants) - 1) < 1e-9
    assert conv.variants[1].std_error == pytest.approx(math.sqrt(0.14 * 0.86 / 500))
    assert b.relative_lift == pytest.approx((0.14 - 0.1) / 0.1)
    # Lower latency is better: b's negative diff is a win and its chance to beat is high.
    lb = latency.comparisons[0]
    assert lb.diff < 0 and lb.significant and lb.better is True
    assert lb.chance_to_beat > 0.99
    assert latency.variants[1].chance_to_be_best > 0.9
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert '"mode": "fixed"' in text


def test_analyse_sequential_mode_flags_srm_and_undefined() -> None:
    rng = np.random.default_rng(13)
    names = ["control", "b"]
    flat = {"control": stats.Summary.of([1, 1, 1]), "b": stats.Summary.of([1, 1])}
    metrics = [*_metrics(rng, names), MetricData("flat", "continuous", flat)]
    report = analyse(names, [9500, 500], [0.5, 0.5], metrics, mode="sequential")
    assert report.mode == "sequential"
    assert report.srm.mismatch is True and "sample ratio mismatch" in report.notes[0]
    conv = report.metrics[0].comparisons[0]
    ref = stats.msprt_proportions(900, 9000, 70, 500)
    assert conv.p_value == ref.p_value and conv.ci_low == ref.ci_low
    fixed = stats.two_proportions(900, 9000, 70, 500)
    assert conv.ci_high - conv.ci_low > fixed.ci_high - fixed.ci_low  # always-valid is wider
    undefined = report.metrics[2].comparisons[0]
    assert undefined.p_value is None and undefined.reason == "zero variance in both groups"
    assert undefined.significant is False and undefined.better is None
    json.dumps(report.to_dict(), allow_nan=False)


def test_analyse_rejects_bad_input() -> None:
    rng = np.random.default_rng(14)
    names = ["control", "b"]
    with pytest.raises(InvalidInputError) as err:
        analyse(names, [1, 1], [1, 1], _metrics(rng, names), mode="bayes")  # type: ignore[arg-type]
    assert err.value.details["field"] == "mode"
    with pytest.raises(InvalidInputError) as err:
        analyse(["control", "b", "z"], [1, 1, 1], [1, 1, 1], _metrics(rng, names))
    assert err.value.details["missing"] == ["z"]
