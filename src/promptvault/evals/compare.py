"""Compare two runs over the same dataset: case by case, evaluator by evaluator."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from promptvault.errors import InvalidInputError
from promptvault.evals import stats
from promptvault.evals.models import (
    CaseComparison,
    CaseResult,
    Comparison,
    EvaluatorComparison,
    Run,
)

__all__ = ["compare_runs", "word_diff"]

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(a: str, b: str) -> list[tuple[str, str]]:
    """``(op, text)`` pieces from ``a`` to ``b`` by words: ``=`` kept, ``-`` gone, ``+`` new."""
    left, right = _TOKEN.findall(a), _TOKEN.findall(b)
    out: list[tuple[str, str]] = []

    def emit(op: str, text: str) -> None:
        if not text:
            return
        if out and out[-1][0] == op:
            out[-1] = (op, out[-1][1] + text)
        else:
            out.append((op, text))

    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            emit("=", "".join(left[i1:i2]))
        else:
            emit("-", "".join(left[i1:i2]))
            emit("+", "".join(right[j1:j2]))
    return out


def _scores(result: CaseResult) -> dict[str, tuple[float, bool]]:
    return {s.name: (s.score, s.passed) for s in result.scores}


def compare_runs(a: Run, b: Run, *, alpha: float = 0.05) -> Comparison:
    """Run ``b`` against run ``a`` (the baseline) on the cases both finished."""
    if a.dataset != b.dataset:
        raise InvalidInputError(
            f"runs {a.id} and {b.id} are on different datasets ({a.dataset}, {b.dataset})",
            details={"field": "b"},
        )
    if not 0 < alpha < 1:
        raise InvalidInputError("alpha must be between 0 and 1", details={"field": "alpha"})
    left = {r.key: r for r in a.results or [] if r.error is None}
    right = {r.key: r for r in b.results or [] if r.error is None}
    keys = [k for k in left if k in right]
    names = [n for n in _names(a) if n in set(_names(b))]
    evaluators = [_evaluator(name, keys, left, right, alpha) for name in names]
    cases: list[CaseComparison] = []
    flipped: list[str] = []
    for key in keys:
        sa, sb = _scores(left[key]), _scores(right[key])
        flips = {
            n: ("fail -> pass" if sb[n][1] else "pass -> fail")
            for n in names
            if n in sa and n in sb and sa[n][1] != sb[n][1]
        }
        if flips:
            flipped.append(key)
        cases.append(
            CaseComparison(
                key=key,
                output_a=left[key].output,
                output_b=right[key].output,
                diff=word_diff(left[key].output or "", right[key].output or ""),
                scores_a={n: v[0] for n, v in sa.items()},
                scores_b={n: v[0] for n, v in sb.items()},
                flipped=flips,
            )
        )
    return Comparison(
        run_a=a.id,
        run_b=b.id,
        dataset=a.dataset,
        ref_a=f"{a.prompt}@{a.version}",
        ref_b=f"{b.prompt}@{b.version}",
        n=len(keys),
        alpha=alpha,
        evaluators=evaluators,
        cases=cases,
        flipped=flipped,
    )


def _names(run: Run) -> list[str]:
    seen: dict[str, None] = {}
    for result in run.results or []:
        for score in result.scores:
            seen.setdefault(score.name, None)
    return list(seen)


def _evaluator(
    name: str,
    keys: Sequence[str],
    left: dict[str, CaseResult],
    right: dict[str, CaseResult],
    alpha: float,
) -> EvaluatorComparison:
    pairs = []
    for key in keys:
        sa, sb = _scores(left[key]), _scores(right[key])
        if name in sa and name in sb:
            pairs.append((sa[name], sb[name]))
    n = len(pairs)
    binary = all(s in (0.0, 1.0) for (s, _), (t, _) in pairs for s in (s, t))
    need = stats.min_pairs_for(alpha)
    if binary:
        a_vals = [1.0 if p else 0.0 for (_, p), _ in pairs]
        b_vals = [1.0 if q else 0.0 for _, (_, q) in pairs]
        a_only = sum(1 for (_, p), (_, q) in pairs if p and not q)
        b_only = sum(1 for (_, p), (_, q) in pairs if q and not p)
        p_value = stats.mcnemar_exact(a_only, b_only)
        test = f"McNemar exact ({a_only + b_only} discordant pairs)"
        informative = a_only + b_only
    else:
        a_vals = [s for (s, _), _ in pairs]
        b_vals = [t for _, (t, _) in pairs]
        a_only = sum(1 for (_, p), (_, q) in pairs if p and not q)
        b_only = sum(1 for (_, p), (_, q) in pairs if q and not p)
        result = stats.wilcoxon([y - x for x, y in zip(a_vals, b_vals, strict=True)])
        p_value = result.p_value
        test = f"Wilcoxon signed-rank, {result.method} ({result.n} non-zero differences)"
        informative = result.n
    diffs = [y - x for x, y in zip(a_vals, b_vals, strict=True)]
    mean_a = sum(a_vals) / n if n else 0.0
    mean_b = sum(b_vals) / n if n else 0.0
    low, high = stats.bootstrap_ci(diffs, alpha=alpha)
    verdict, explanation = _verdict(
        n,
        informative=informative,
        need=need,
        p_value=p_value,
        difference=mean_b - mean_a,
        alpha=alpha,
    )
    return EvaluatorComparison(
        name=name,
        kind="pass/fail" if binary else "score",
        n=n,
        mean_a=mean_a,
        mean_b=mean_b,
        difference=mean_b - mean_a,
        ci_low=low,
        ci_high=high,
        test=test,
        p_value=p_value,
        verdict=verdict,
        explanation=explanation,
        a_only_passed=a_only,
        b_only_passed=b_only,
    )


def _verdict(
    n: int, *, informative: int, need: int, p_value: float, difference: float, alpha: float
) -> tuple[str, str]:
    if n < need:
        return (
            "cannot tell",
            f"cannot tell: {n} paired cases is too few for any difference to be significant "
            f"at alpha={alpha:g} (at least {need} are needed)",
        )
    if p_value < alpha:
        verdict = "better" if difference > 0 else "worse"
        return verdict, f"B is {verdict} than A (p={p_value:.3g} < {alpha:g})"
    if informative < need:
        return (
            "no significant difference",
            f"no significant difference: only {informative} cases differ, and at least "
            f"{need} differing cases are needed to tell (p={p_value:.3g})",
        )
    return (
        "no significant difference",
        f"no significant difference at alpha={alpha:g} (p={p_value:.3g}); the interval "
        "says how large a difference the data still allow",
    )
