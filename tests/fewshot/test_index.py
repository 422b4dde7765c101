"""The in-memory collection index: incremental changes select exactly what a rebuild selects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from promptvault.entities import Example
from promptvault.fewshot.index import CollectionIndex

DIM = 16
CATEGORIES = ["billing", "shipping", None, "account"]


def example(i: int, rng: np.random.Generator) -> Example:
    return Example.model_construct(
        id=i,
        collection="c",
        input=f"input {i}",
        output=f"output {i}",
        category=CATEGORIES[int(rng.integers(len(CATEGORIES)))],
        quality=float(rng.integers(0, 5)) / 4,  # ties on purpose
        metadata={"lang": ["en", "fr"][int(rng.integers(2))]},
        usage_count=0,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    m = rng.standard_normal((n, DIM)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


QUERIES: list[dict[str, Any]] = [
    {},
    {"category": "billing"},
    {"category": ["shipping", None]},
    {"min_quality": 0.5},
    {"metadata": {"lang": "fr"}},
    {"category": "account", "min_quality": 0.25, "metadata": {"lang": ["en", "fr"]}},
    {"category": "nobody"},
]


def selections(index: CollectionIndex, query: np.ndarray) -> list[Any]:
    """Every strategy under every filter, as example ids."""
    out = []
    for filters in QUERIES:
        mask = index.mask(**filters)
        for strategy in ("semantic", "mmr", "diverse", "quality", "random"):
            rows = index.select(strategy, 5, query=query, mask=mask, seed=7)
            out.append((strategy, filters, [e.id for e in index.pick(rows)]))
    return out


def rebuilt(index: CollectionIndex) -> CollectionIndex:
    """The index a fresh load of the same rows gives."""
    return CollectionIndex.build(
        index.revision, index.dim, list(index.examples[: index.n]), index.matrix.copy()
    )


def test_changes_select_what_a_rebuild_selects() -> None:
    rng = np.random.default_rng(15)
    vectors = unit(rng, 40)
    next_id = 1
    live: list[Example] = []
    for _ in range(40):
        live.append(example(next_id, rng))
        next_id += 1
    index = CollectionIndex.build(1, DIM, live, vectors)
    query = unit(rng, 1)[0]
    for step in range(150):
        op = rng.random()
        revision = index.revision + 1
        if op < 0.6 or index.n < 5:
            count = int(rng.integers(1, 4))
            added = [example(next_id + j, rng) for j in range(count)]
            next_id += count
            index = index.appended(revision, added, unit(rng, count))
        elif op < 0.8:
            row = int(rng.integers(index.n))
            old = index.examples[row]
            new = example(old.id, rng)
            vector = unit(rng, 1)[0] if rng.random() < 0.5 else None
            index = index.replaced(revision, new, vector)
            assert index.examples[row] == new
        else:
            ids = [int(i) for i in rng.choice(index.ids, size=2, replace=False)]
            index = index.without(revision, [*ids, 10_000])  # an unknown id is ignored
            assert all(index.row_of(i) is None for i in ids)
        if step % 10 == 0 or step == 149:
            assert selections(index, query) == selections(rebuilt(index), query)
    assert index.ids.tolist() == sorted(index.ids.tolist())  # rows stay in id order


def test_append_shares_every_column_and_old_snapshots_keep_their_rows() -> None:
    rng = np.random.default_rng(1)
    first = CollectionIndex.build(1, DIM, [example(i, rng) for i in range(1, 11)], unit(rng, 10))
    before = selections(first, unit(rng, 1)[0])
    second = first.appended(2, [example(11, rng)], unit(rng, 1))
    # No per-row list or array is rebuilt: every column is a longer view of the same memory.
    for column in ("matrix", "ids", "quality", "codes"):
        assert np.shares_memory(getattr(second, column), getattr(first, column))
    assert second.examples is first.examples
    assert (first.n, second.n) == (10, 11)
    assert first.row_of(11) is None and second.row_of(11) == 10
    query = unit(np.random.default_rng(1), 1)[0]
    assert len(selections(first, query)) == len(before)
    # Appending to the older snapshot again forks instead of overwriting row 10.
    fork = first.appended(3, [example(12, rng)], unit(rng, 1))
    assert second.examples[10].id == 11 and second.row_of(11) == 10
    assert fork.ids.tolist()[-1] == 12 and fork.row_of(11) is None


def test_growth_doubles_and_edits_do_not_touch_older_snapshots() -> None:
    rng = np.random.default_rng(2)
    index = CollectionIndex.build(1, DIM, [example(1, rng)], unit(rng, 1))
    bases = set()
    for i in range(2, 1_001):
        index = index.appended(i, [example(i, rng)], unit(rng, 1))
        bases.add(id(index.matrix.base))
    assert index.n == 1_000
    assert len(bases) <= 6  # 64 -> 128 -> ... -> 1024: a handful of copies, not one per add
    kept = index.matrix[3].copy()
    edited = index.replaced(1_001, example(4, rng), unit(rng, 1)[0])
    np.testing.assert_array_equal(index.matrix[3], kept)
    assert not np.array_equal(edited.matrix[3], kept)
    with pytest.raises(KeyError):
        index.replaced(1_002, example(5_000, rng), None)
