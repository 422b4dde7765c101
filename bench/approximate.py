"""Approximate (HNSW) few-shot search against exact search, through ``CollectionIndex``.

Synthetic sentence-embedding-like vectors (384 dims, low intrinsic dimension plus noise,
L2-normalised; queries are perturbed rows). Per size: the graph's build time (background
worker, one thread unless ``--threads``) and memory beside the float32 matrix; top-5 latency
(median and p90 of single calls, one BLAS thread) exact and approximate, recall@5 of the
approximate answer against the exact one; the same with a category filter (a third of the
rows pass; every answer is checked to pass); and the caller's cost of adding one example to
a collection with a graph (the graph catches up in the background).

    .venv/bin/python bench/approximate.py              # 100,000 examples
    .venv/bin/python bench/approximate.py --quick      # 5,000 (smoke run, seconds)
    .venv/bin/python bench/approximate.py --million    # also 1,000,000 (minutes, ~3 GB)

Targets: top-5 at 100,000 under 1 ms with recall@5 >= 0.99; at 1,000,000 under 3 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from promptvault.entities import Example
from promptvault.fewshot.approximate import approximate_available
from promptvault.fewshot.blas import blas_threads
from promptvault.fewshot.index import CollectionIndex

DIM = 384
K = 5
AT = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = ["billing", "shipping", "account"]


def example(i: int) -> Example:
    return Example.model_construct(
        id=i, collection="c", input=f"in {i}", output="o", category=CATEGORIES[i % 3],
        quality=1.0, metadata={}, usage_count=0, created_at=AT,
    )  # fmt: skip


def vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, DIM), dtype=np.float32)
    basis = np.random.default_rng(0).standard_normal((32, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):  # in blocks: 1M x 384 at once would double memory
        rows = min(100_000, n - start)
        block = rng.standard_normal((rows, 32), dtype=np.float32) @ basis
        block += 0.5 * np.sqrt(32) * rng.standard_normal((rows, DIM), dtype=np.float32)
        out[start : start + rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def latencies(fn: Any, queries: np.ndarray) -> tuple[list[float], list[Any]]:
    times, answers = [], []
    for q in queries:
        start = time.perf_counter_ns()
        answers.append(fn(q))
        times.append((time.perf_counter_ns() - start) / 1000)
    return times, answers


def summary(times: list[float]) -> str:
    return f"{statistics.median(times):8.0f} {statistics.quantiles(times, n=10)[-1]:8.0f}"


def run(n: int, queries_n: int, threads: int, ef: int) -> None:
    rng = np.random.default_rng(n)
    m = vectors(n, rng)
    queries = m[rng.integers(n, size=queries_n)] + 0.04 * rng.standard_normal(
        (queries_n, DIM), dtype=np.float32
    )
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    examples = [example(i + 1) for i in range(n)]
    exact = CollectionIndex.build(1, DIM, examples, m)
    graphed = CollectionIndex.build(1, DIM, examples, m)
    start = time.perf_counter()
    ann = graphed.start_approximate(expansion_search=ef, threads=threads)
    assert ann.wait(timeout=24 * 3600), ann.failed
    build_s = time.perf_counter() - start
    print(
        f"\n{n:,} x {DIM}: graph built in {build_s:.1f} s ({threads or 'all'} thread(s));"
        f" graph {ann.memory_bytes / 2**20:.0f} MiB beside the float32 matrix"
        f" {m.nbytes / 2**20:.0f} MiB"
    )
    print(f"  {'top-5, µs':<34} {'median':>8} {'p90':>8}  recall@5")
    where_e = exact.where(category="billing")
    where_g = graphed.where(category="billing")

    def search(index: CollectionIndex, where: Any) -> Any:
        return lambda q: index.select("semantic", K, query=q, where=where)

    cases = [
        ("exact", search(exact, None), None),
        ("approximate", search(graphed, None), "exact"),
        ("exact, category filter", search(exact, where_e), None),
        ("approximate, category filter", search(graphed, where_g), "exact, category filter"),
    ]
    answers: dict[str, list[Any]] = {}
    for _, fn, _ in cases:
        fn(queries[0])  # warm
    for name, fn, against in cases:
        times, answers[name] = latencies(fn, queries)
        recall = ""
        if against is not None:
            hits = sum(
                len(set(a.tolist()) & set(b.tolist()))
                for a, b in zip(answers[name], answers[against], strict=True)
            )
            recall = f"{hits / (K * len(queries)):.3f}"
        print(f"  {name:<34} {summary(times)}  {recall}")
    for rows in answers["approximate, category filter"]:
        assert all(graphed.examples[r].category == "billing" for r in rows.tolist())
        assert len(rows) == K
    adds = []
    index, new = graphed, vectors(200, rng)
    for i in range(200):
        added = [example(n + 1 + i)]
        start = time.perf_counter_ns()
        index = index.appended(2 + i, added, new[i : i + 1])
        adds.append((time.perf_counter_ns() - start) / 1000)
    found = index.select("semantic", 1, query=new[-1])
    assert found.tolist() == [n + 199], "a just-added example must be found at once"
    start = time.perf_counter()
    assert ann.wait(timeout=3600)
    print(
        f"  add one example with a graph: median {statistics.median(adds):.0f} µs"
        f" (graph caught up with 200 adds {time.perf_counter() - start:.2f} s later)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 5,000 examples")
    parser.add_argument("--million", action="store_true", help="also 1,000,000 examples")
    parser.add_argument("--threads", type=int, default=0, help="graph build threads (0: all)")
    parser.add_argument("--ef", type=int, default=256, help="HNSW expansion_search")
    args = parser.parse_args()
    if not approximate_available():
        raise SystemExit("usearch is not installed: pip install 'promptvault[ann]'")
    libs = ", ".join(f"{name} threads={t}" for name, t in blas_threads())
    print(f"BLAS: {libs}; HNSW M=16 ef_add=64 ef={args.ef}, int8 graph, exact re-scoring")
    print(f"load average: {os.getloadavg()} on {os.cpu_count()} CPUs")
    sizes = [5_000] if args.quick else [100_000]
    if args.million:
        sizes.append(1_000_000)
    for n in sizes:
        run(n, 50 if args.quick else 300, args.threads, args.ef)


if __name__ == "__main__":
    main()
