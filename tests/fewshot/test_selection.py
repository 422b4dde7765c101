"""Selection strategies over real arrays, checked against straightforward references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from promptvault.entities import Example
from promptvault.errors import InvalidInputError
from promptvault.fewshot.selection import (
    by_quality,
    diverse,
    filter_mask,
    fit_examples,
    fit_token_budget,
    mmr,
    random_pick,
    top_k,
)
from promptvault.fewshot.tokens import ApproxCounter


def unit_rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    m = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def reference_top_k(m: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    scores = [(-float(np.dot(row, q)), i) for i, row in enumerate(m)]
    return [i for _, i in sorted(scores)[:k]]


@pytest.mark.parametrize(("n", "k"), [(1, 1), (50, 5), (1000, 10), (300, 299), (10, 10), (7, 20)])
def test_top_k_matches_a_per_row_reference(n: int, k: int) -> None:
    m = unit_rows(n, 32, seed=n)
    q = unit_rows(1, 32, seed=999)[0]
    got = top_k(m, q, k)
    assert got.dtype == np.int64
    assert got.tolist() == reference_top_k(m, q, k)


def test_top_k_edge_cases() -> None:
    m = unit_rows(5, 8)
    q = m[2]
    assert top_k(m, q, 0).tolist() == []
    assert top_k(np.zeros((0, 8), np.float32), q, 3).tolist() == []
    assert top_k(m, q, 1).tolist() == [2]  # a row is most similar to itself
    assert sorted(top_k(m, q, 100).tolist()) == [0, 1, 2, 3, 4]


def test_top_k_breaks_ties_by_row_index() -> None:
    rows = np.array([[0.6, 0.8], [1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], np.float32)
    assert top_k(rows, np.array([0.6, 0.8], np.float32), 2).tolist() == [0, 2]
    # when the cut falls inside a tie, any tied rows may make it, listed by index
    same = np.tile(np.array([[1.0, 0.0]], np.float32), (6, 1))
    got = top_k(same, np.array([1.0, 0.0], np.float32), 3).tolist()
    assert len(set(got)) == 3 and got == sorted(got)


def test_top_k_rejects_bad_input() -> None:
    m = unit_rows(4, 8)
    with pytest.raises(InvalidInputError) as err:
        top_k(m, m[0], -1)
    assert err.value.details["field"] == "k"
    with pytest.raises(InvalidInputError) as err:
        top_k(m, np.ones(7, np.float32), 2)
    assert err.value.details["field"] == "query"
    with pytest.raises(InvalidInputError):
        top_k(m[0], m[0], 2)
    with pytest.raises(InvalidInputError):
        top_k(m, m[0], 1, mask=[True, False])


def test_top_k_mask_excludes_rows_and_never_returns_them() -> None:
    m = unit_rows(20, 16, seed=3)
    q = m[4]
    mask = np.ones(20, bool)
    mask[4] = False
    mask[10:] = False
    got = top_k(m, q, 50, mask=mask)
    assert 4 not in got.tolist()
    assert sorted(got.tolist()) == [i for i in range(10) if i != 4]
    assert top_k(m, q, 3, mask=np.zeros(20, bool)).tolist() == []


def reference_mmr(m: np.ndarray, q: np.ndarray, k: int, lam: float) -> list[int]:
    chosen: list[int] = []
    while len(chosen) < min(k, len(m)):
        best, best_score = -1, -math.inf
        # ties (every score is 0 on the first step when lam == 0) go to the more relevant row
        for i in sorted(range(len(m)), key=lambda i: -float(m[i] @ q)):
            if i in chosen:
                continue
            red = max((float(m[i] @ m[j]) for j in chosen), default=0.0)
            score = lam * float(m[i] @ q) - (1 - lam) * red
            if score > best_score:
                best, best_score = i, score
        chosen.append(best)
    return chosen


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.5, 1.0])
def test_mmr_matches_the_greedy_definition(lam: float) -> None:
    m = unit_rows(60, 12, seed=7)
    q = unit_rows(1, 12, seed=8)[0]
    assert mmr(m, q, 6, lambda_=lam, candidates=60).tolist() == reference_mmr(m, q, 6, lam)


def test_mmr_avoids_near_duplicates_that_top_k_picks() -> None:
    # rows 0 and 1 are near duplicates; row 2 is a little less relevant but different
    rows = np.array([[1.0, 0.0, 0.0], [1.0, 0.001, 0.0], [0.0, 0.3, 1.0]], np.float32)
    m = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    q = np.array([1.0, 0.0, 1.0], np.float32) / np.float32(math.sqrt(2))
    assert top_k(m, q, 2).tolist() == [0, 1]
    assert mmr(m, q, 2, lambda_=0.5).tolist() == [0, 2]
    assert mmr(m, q, 2, lambda_=1.0).tolist() == [0, 1]


def test_mmr_bad_lambda_and_empty() -> None:
    m = unit_rows(3, 4)
    with pytest.raises(InvalidInputError) as err:
        mmr(m, m[0], 2, lambda_=1.5)
    assert err.value.details["field"] == "lambda"
    assert mmr(m, m[0], 0).tolist() == []
    assert mmr(np.zeros((0, 4), np.float32), m[0], 3).tolist() == []


def test_by_quality_orders_best_first_with_index_ties() -> None:
    q = [0.2, 0.9, 0.5, 0.9, 0.1]
    assert by_quality(q, 3).tolist() == [1, 3, 2]
    assert by_quality(q, 10).tolist() == [1, 3, 2, 0, 4]
    assert by_quality(q, 2, mask=[True, False, True, True, True]).tolist() == [3, 2]
    assert by_quality([], 2).tolist() == []


def test_diverse_is_round_robin_over_categories_best_first() -> None:
    cats = ["a", "a", "b", "c", "b", "a", None]
    qual = [0.9, 0.8, 0.7, 0.95, 0.6, 0.85, 0.1]
    # round 1: best of each category ordered by that best: c(3) .95, a(0) .9, b(2) .7, None(6)
    # round 2: a(5) .85, b(4) .6; round 3: a(1)
    assert diverse(cats, qual, 10).tolist() == [3, 0, 2, 6, 5, 4, 1]
    assert diverse(cats, qual, 3).tolist() == [3, 0, 2]
    codes = np.array([0, 0, 1, 2, 1, 0, 3])
    assert diverse(codes, qual, 10).tolist() == [3, 0, 2, 6, 5, 4, 1]
    mask = np.array([c != "c" for c in cats])
    assert diverse(cats, qual, 4, mask=mask).tolist() == [0, 2, 6, 5]
    assert diverse([], [], 3).tolist() == []
    with pytest.raises(InvalidInputError):
        diverse(["a"], [0.1, 0.2], 1)


def test_random_pick_is_seeded_distinct_and_respects_mask() -> None:
    a = random_pick(100, 10, seed=42)
    assert a.tolist() == random_pick(100, 10, seed=42).tolist()
    assert len(set(a.tolist())) == 10
    assert a.tolist() != random_pick(100, 10, seed=43).tolist()
    mask = np.zeros(100, bool)
    mask[[3, 5, 7]] = True
    assert sorted(random_pick(100, 10, seed=1, mask=mask).tolist()) == [3, 5, 7]
    assert random_pick(0, 3, seed=1).tolist() == []


def test_filter_mask_combines_category_quality_and_metadata() -> None:
    cats = ["billing", "shipping", "billing", None]
    qual = [0.9, 0.8, 0.3, 0.99]
    meta = [{"lang": "en", "tier": "pro"}, {"lang": "de"}, {"lang": "en"}, {}]
    assert filter_mask(4, categories=cats, category="billing").tolist() == [
        True,
        False,
        True,
        False,
    ]
    assert filter_mask(4, categories=cats, category=["shipping", None]).tolist() == [
        False,
        True,
        False,
        True,
    ]
    got = filter_mask(4, categories=cats, category="billing", quality=qual, min_quality=0.5)
    assert got.tolist() == [True, False, False, False]
    assert filter_mask(4, metadata=meta, where={"lang": "en"}).tolist() == [
        True,
        False,
        True,
        False,
    ]
    assert filter_mask(4, metadata=meta, where={"lang": ["de", "fr"]}).tolist() == [
        False,
        True,
        False,
        False,
    ]
    pred = filter_mask(4, metadata=meta, where=lambda m: m.get("tier") == "pro")
    assert pred.tolist() == [True, False, False, False]
    with pytest.raises(InvalidInputError) as err:
        filter_mask(4, category="billing")
    assert err.value.details["field"] == "category"
    with pytest.raises(InvalidInputError):
        filter_mask(4, metadata=meta[:2], where={"lang": "en"})


def test_token_budget_stops_at_first_piece_that_does_not_fit() -> None:
    counter = ApproxCounter()
    pieces = ["one two three", "four five", "six", "seven"]
    costs = [counter.count(p) for p in pieces]
    sep = counter.count("\n\n")
    assert fit_token_budget(pieces, 10_000, counter=counter) == 4
    assert fit_token_budget(pieces, 0, counter=counter) == 0
    exact = costs[0] + sep + costs[1]
    assert fit_token_budget(pieces, exact, counter=counter) == 2
    assert fit_token_budget(pieces, exact - 1, counter=counter) == 1
    # a later, shorter piece is not squeezed in after one that did not fit
    assert fit_token_budget(["a", "b " * 50, "c"], 5, counter=counter) == 1
    with pytest.raises(InvalidInputError):
        fit_token_budget(pieces, -1, counter=counter)


def test_fit_examples_counts_the_formatted_text() -> None:
    examples = [Example(id=i, input=f"question {i} " * 5, output="answer " * 5) for i in range(6)]
    counter = ApproxCounter()
    first = examples[0]
    one = counter.count(f"Example 1:\nInput: {first.input}\nOutput: {first.output}")
    assert fit_examples(examples, one, counter=counter) == examples[:1]
    assert fit_examples(examples, 10_000, counter=counter) == examples
    as_msgs = fit_examples(
        examples,
        counter.count(examples[0].input + "\n" + examples[0].output),
        counter=counter,
        as_messages=True,
    )
    assert as_msgs == examples[:1]
