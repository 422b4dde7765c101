"""The paired statistics against SciPy, and comparisons of two runs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from promptvault import Vault
from promptvault.evals import stats
from promptvault.evals.compare import word_diff
from promptvault.evals.service import EvalService

from .model_stub import ModelStub


@pytest.mark.parametrize(("b", "c"), [(0, 0), (1, 0), (3, 9), (10, 10), (40, 61), (300, 360)])
def test_mcnemar_exact_is_scipy_binomtest(b: int, c: int) -> None:
    expected = scipy_stats.binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    assert stats.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_wilcoxon_is_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = [8, 20, 45, 60, 200, 30][seed]
    diffs = rng.normal(0.1 * (seed % 3), 1, size=n)
    if seed >= 4:  # ties and zeros: the asymptotic branch with tie correction
        diffs = np.round(diffs, 1)
    ours = stats.wilcoxon(diffs.tolist())
    method = "exact" if ours.method == "exact" else "asymptotic"
    expected = scipy_stats.wilcoxon(diffs, zero_method="wilcox", method=method)
    assert ours.statistic == pytest.approx(expected.statistic)
    assert ours.p_value == pytest.approx(expected.pvalue, rel=1e-7)
    assert ours.method == ("exact" if seed < 3 else "asymptotic")


def test_bootstrap_interval_agrees_with_scipy() -> None:
    rng = np.random.default_rng(7)
    diffs = rng.normal(0.3, 1.0, size=80)
    low, high = stats.bootstrap_ci(diffs.tolist())
    ref = scipy_stats.bootstrap(
        (diffs,), np.mean, method="percentile", n_resamples=20_000, random_state=1
    ).confidence_interval
    assert low == pytest.approx(ref.low, abs=0.03)
    assert high == pytest.approx(ref.high, abs=0.03)
    assert low < diffs.mean() < high


def test_min_pairs() -> None:
    assert stats.min_pairs_for(0.05) == 6
    assert stats.min_pairs_for(0.01) == 8


def test_word_diff() -> None:
    assert word_diff("the cat sat", "the dog sat down") == [
        ("=", "the "),
        ("-", "cat"),
        ("+", "dog"),
        ("=", " sat"),
        ("+", " down"),
    ]


def _two_versions(vault: Vault, stub: ModelStub, wrong: set[str]) -> None:
    vault.push(
        "qa",
        template=[{"role": "user", "content": "Reply {{q}}"}],
        config={"model": "gpt-4o-mini"},
        labels=["staging"],
    )

    def reply(body: dict[str, object]) -> str:
        text = str(body["messages"][-1]["content"])  # type: ignore[index]
        q = text.rsplit(maxsplit=1)[-1]
        if text.startswith("Reply") and q in wrong:
            return f"Wrong {q}"
        return f"Answer {q}"

    stub.reply = reply


def test_comparison_finds_a_real_regression(
    vault: Vault, evals: EvalService, stub: ModelStub
) -> None:
    vault.evals.add_cases(
        "d",
        [
            {"key": f"e{i:02d}", "variables": {"q": f"m{i}"}, "expected": f"Answer m{i}"}
            for i in range(28)
        ],
    )
    _two_versions(vault, stub, wrong={f"n{i}" for i in range(10)})
    base = evals.run("d", "qa@production")
    cand = evals.run("d", "qa@staging")
    c = evals.compare(base.id, cand.id)
    (exact,) = c.evaluators
    assert (c.n, exact.kind, exact.a_only_passed, exact.b_only_passed) == (40, "pass/fail", 10, 0)
    assert exact.p_value == pytest.approx(scipy_stats.binomtest(0, 10, 0.5).pvalue)
    assert exact.verdict == "worse" and exact.difference == pytest.approx(-0.25)
    assert exact.ci_low < -0.25 < exact.ci_high < 0
    assert sorted(c.flipped) == [f"c{i:02d}" for i in range(10)]
    case = next(x for x in c.cases if x.key == "c03")
    assert case.flipped == {"exact": "pass -> fail"}
    assert case.diff == [("-", "Answer"), ("+", "Wrong"), ("=", " n3")]


def test_small_dataset_says_it_cannot_tell(
    vault: Vault, evals: EvalService, stub: ModelStub
) -> None:
    vault.evals.delete_cases("d", [f"c{i:02d}" for i in range(5, 12)])
    _two_versions(vault, stub, wrong={f"n{i}" for i in range(5)})
    c = evals.compare(evals.run("d", "qa@production").id, evals.run("d", "qa@staging").id)
    (exact,) = c.evaluators
    assert exact.verdict == "cannot tell" and exact.mean_b == 0.0 and exact.mean_a == 1.0
    assert "5 paired cases is too few" in exact.explanation
    assert "at least 6" in exact.explanation
