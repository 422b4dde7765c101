"""The approximate (HNSW) index: exact filters, exact scores, incremental changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from promptvault import Vault
from promptvault.config import Settings
from promptvault.entities import Example
from promptvault.fewshot.approximate import ApproximateIndex, approximate_available
from promptvault.fewshot.index import CollectionIndex
from promptvault.fewshot.selection import top_k

DIM = 48
CATEGORIES = ["billing", "shipping", "account"]


def test_usearch_is_installed_for_the_suite() -> None:
    # The dev extra installs promptvault[ann]; without it the tests below would not test
    # the graph at all.
    assert approximate_available()


def example(i: int, *, category: str | None = None, quality: float = 1.0) -> Example:
    return Example.model_construct(
        id=i,
        collection="c",
        input=f"input {i}",
        output=f"output {i}",
        category=category if category is not None else CATEGORIES[i % 3],
        quality=quality,
        metadata={"even": i % 2 == 0},
        usage_count=0,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def structured(n: int, seed: int) -> np.ndarray:
    """Vectors with a low intrinsic dimension, like sentence embeddings."""
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, 8)).astype(np.float32) @ rng.standard_normal((8, DIM)).astype(
        np.float32
    )
    m += 0.1 * rng.standard_normal((n, DIM)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


@pytest.fixture
def graph_index() -> Iterator[tuple[CollectionIndex, np.ndarray]]:
    n = 3_000
    m = structured(n, seed=1)
    examples = [example(i + 1, quality=0.5 if i % 10 else 1.0) for i in range(n)]
    index = CollectionIndex.build(1, DIM, examples, m)
    ann = index.start_approximate()
    assert ann.wait(timeout=120)
    assert ann.size == n
    yield index, m


def spy(ann: ApproximateIndex, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = ann.candidates

    def candidates(query: Any, count: int) -> Any:
        found = real(query, count)
        calls.append(-1 if found is None else len(found))
        return found

    monkeypatch.setattr(ann, "candidates", candidates)
    return calls


def test_semantic_search_through_the_graph_matches_exact(
    graph_index: tuple[CollectionIndex, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    index, m = graph_index
    assert index.approximate is not None
    calls = spy(index.approximate, monkeypatch)
    queries = structured(40, seed=2)
    hits = 0
    for q in queries:
        got = index.select("semantic", 5, query=q)
        exact = top_k(m, q, 5)
        hits += len(set(got.tolist()) & set(exact.tolist()))
        # Scores are exact: the order is the exact order of the rows returned.
        scores = m[got] @ q
        assert np.all(np.diff(scores) <= 0)
    assert len(calls) == len(queries) and all(c > 0 for c in calls)  # the graph answered
    assert hits / (5 * len(queries)) >= 0.95
    mmr_rows = index.select("mmr", 4, query=queries[0], lambda_=0.7)
    assert len(set(mmr_rows.tolist())) == 4


def test_filters_hold_exactly_and_selective_ones_fall_back_to_exact(
    graph_index: tuple[CollectionIndex, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    index, m = graph_index
    q = structured(1, seed=3)[0]
    where = index.where(category="billing", min_quality=0.5, metadata={"even": True})
    assert where is not None
    rows = index.select("semantic", 5, query=q, where=where)
    assert len(rows) == 5
    for r in rows.tolist():
        e = index.examples[r]
        assert e.category == "billing" and e.quality >= 0.5 and e.metadata["even"] is True
    # A selective filter (100 of 3,000 rows pass): the graph's first candidates cannot fill
    # k = 60, so the search widens, then answers from every row: the exact answer.
    selective = {"category": "shipping", "min_quality": 1.0, "metadata": {"even": False}}
    mask = index.mask(**selective)
    assert mask is not None and mask.sum() == 100
    got = index.select("semantic", 60, query=q, where=index.where(**selective))
    assert got.tolist() == top_k(m, q, 60, mask=mask).tolist()
    assert index.select("semantic", 5, query=q, where=index.where(category="nobody")).size == 0


def test_adds_edits_and_deletes_without_a_rebuild(
    graph_index: tuple[CollectionIndex, np.ndarray],
) -> None:
    index, _ = graph_index
    ann = index.approximate
    assert ann is not None
    fresh = structured(3, seed=9)
    n = index.n
    grown = index.appended(2, [example(n + 1 + i) for i in range(3)], fresh)
    # Found at once: rows not in the graph yet are scored exactly beside its candidates.
    for i in range(3):
        assert grown.select("semantic", 1, query=fresh[i]).tolist() == [n + i]
    assert ann.wait(timeout=60) and ann.size == n + 3  # then added, without a rebuild
    assert grown.approximate is ann
    for i in range(3):
        assert grown.select("semantic", 1, query=fresh[i]).tolist() == [n + i]

    # An edit moves example 10 onto a new vector: found there, at its exact score.
    target = structured(1, seed=11)[0]
    edited = grown.replaced(3, example(10), target)
    assert edited.select("semantic", 1, query=target).tolist() == [9]
    assert ann.wait(timeout=60)
    assert edited.select("semantic", 1, query=target).tolist() == [9]

    # A delete: never returned again.
    smaller = edited.without(4, [10])
    assert smaller.row_of(10) is None
    assert 10 not in smaller.ids[smaller.select("semantic", 5, query=target)].tolist()
    assert ann.wait(timeout=60) and ann.size == n + 2
    assert 10 not in smaller.ids[smaller.select("semantic", 5, query=target)].tolist()


@pytest.fixture
def vault(database_url: str) -> Iterator[Vault]:
    v = Vault(Settings(database_url=database_url, examples_approximate_from=50))
    yield v
    v.close()


def test_the_vault_uses_a_graph_above_the_size_setting(vault: Vault) -> None:
    vault.examples.create("faq")
    topics = ["refund", "parcel", "password", "invoice", "upgrade", "cancel"]
    rows = [
        {"input": f"{t} question number {i}", "output": f"{t} answer", "category": t}
        for i in range(12)
        for t in topics
    ]
    vault.examples.add_many("faq", rows[:40])
    assert vault.examples.cache.get("faq").index.approximate is None  # 40 < 50: exact only
    vault.examples.add_many("faq", rows[40:])
    index = vault.examples.cache.get("faq").index
    ann = index.approximate
    assert ann is not None and ann.wait(timeout=60) and ann.size == len(rows)
    for text in ("refund question number 3", "password question number 7"):
        found = vault.examples.search("faq", text, k=3)
        assert found[0][0].input == text
        filtered = vault.examples.search("faq", text, k=3, category="invoice")
        assert [e.category for e, _ in filtered] == ["invoice"] * 3
    added = vault.examples.add("faq", "a brand new refund question", "new answer")
    assert vault.examples.search("faq", "a brand new refund question", k=1)[0][0].id == added.id
