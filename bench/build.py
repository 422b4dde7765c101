"""Build benchmark: ``vault.build()`` warm, next to rendering alone, in one run.

On a SQLite file with the demo registry and a 10,000-example collection (hashing embedder),
µs per call, every figure a median (never a minimum), rounds interleaved so background load
hits every row alike:

* the compiled template's render alone (variables already completed with their defaults);
* ``vault.render`` (resolve from cache + defaults + render);
* ``vault.build`` without examples;
* ``vault.build`` with 3 semantic examples from 10,000 — with a repeated question (the
  query embedding comes from the cache) and with the query embedding recomputed every call;
* the selection's floor (one matrix-vector product + ``argpartition``) on the BLAS library's
  default thread count and on one thread, and embedding one query, to show where time goes.

Slow cases are timed call by call (median and p90 of every call); sub-microsecond ones in
batches of 200 calls (median batch). ``--busy N`` runs N CPU-bound processes meanwhile, the
loaded machine that the BLAS thread pool is sensitive to. The BLAS libraries and their
thread counts are printed. The build's examples are checked against an exact top-3.

    .venv/bin/python bench/build.py                # full run
    .venv/bin/python bench/build.py --busy 2       # on a loaded machine
    .venv/bin/python bench/build.py --quick        # smoke run (seconds)

Targets: ``build()`` with 3 semantic examples from 10,000 under 300 µs (median, loaded
machine); without examples within 2x of ``vault.render``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from promptvault.config import Settings
from promptvault.demo.examples import load_demo_examples
from promptvault.demo.prompts import load_demo
from promptvault.fewshot.blas import blas_threads, one_blas_thread
from promptvault.templating.variables import apply_defaults
from promptvault.vault import Vault

REF = "customer_support"
VARS = {"company_name": "Acme", "question": "How do I get a refund for my broken headphones?"}
SPEC = {"collection": "support_examples", "strategy": "semantic", "k": 3, "query": "{{question}}"}
WORDS = [
    "refund",
    "order",
    "parcel",
    "delivery",
    "password",
    "login",
    "account",
    "invoice",
    "billing",
    "cancel",
    "plan",
    "upgrade",
    "crash",
    "slow",
    "error",
    "payment",
    "card",
    "address",
    "email",
    "headphones",
    "broken",
    "late",
    "charged",
    "twice",
    "export",
]
BATCH = 200  # calls per sample for the sub-microsecond cases


def timed_calls(fn: Callable[[], Any], calls: int) -> list[float]:
    """µs of each of ``calls`` calls."""
    out = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        start = clock()
        fn()
        out.append((clock() - start) / 1000)
    return out


def timed_batches(fn: Callable[[], Any], batches: int) -> list[float]:
    """µs per call of each of ``batches`` batches of :data:`BATCH` calls."""
    out = []
    for _ in range(batches):
        start = time.perf_counter_ns()
        for _ in range(BATCH):
            fn()
        out.append((time.perf_counter_ns() - start) / 1000 / BATCH)
    return out


def _spin(stop: Any) -> None:
    while not stop.is_set():
        sum(range(10_000))


@contextmanager
def busy(processes: int) -> Iterator[None]:
    """``processes`` CPU-bound processes for the duration of the block."""
    stop = multiprocessing.Event()
    workers = [multiprocessing.Process(target=_spin, args=(stop,)) for _ in range(processes)]
    for w in workers:
        w.start()
    try:
        yield
    finally:
        stop.set()
        for w in workers:
            w.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2,000 examples, seconds")
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound processes meanwhile")
    parser.add_argument("--examples", type=int, help="collection size (default 10,000)")
    args = parser.parse_args()
    n = args.examples or (2_000 if args.quick else 10_000)
    rounds = 3 if args.quick else 10
    rng = random.Random(7)
    libs = ", ".join(f"{name} threads={threads}" for name, threads in blas_threads())
    print(f"BLAS: {libs or 'none found'}; busy processes: {args.busy}")
    with tempfile.TemporaryDirectory() as home:
        vault = Vault(Settings(database_url=f"sqlite:///{home}/bench.db", home=home))
        try:
            load_demo(vault)
            load_demo_examples(vault.examples)
            rows = [
                {
                    "input": " ".join(rng.choice(WORDS) for _ in range(10)) + f" #{i}",
                    "output": f"answer {i}",
                    "category": rng.choice(["billing", "shipping", "account"]),
                    "quality": rng.random(),
                }
                for i in range(n - vault.examples.get("support_examples").size)
            ]
            started = time.perf_counter()
            vault.examples.add_many("support_examples", rows)
            took = time.perf_counter() - started
            print(f"collection: {n:,} examples embedded and stored in {took:.1f} s")
            compiled = vault.registry.resolver.compiled(REF).template
            full_vars = apply_defaults(vault.get(REF).variables_schema, VARS)
            loaded = vault.examples.cache.get("support_examples")
            matrix, embedder = loaded.index.matrix, loaded.embedder
            query = embedder.embed([VARS["question"]])[0]
            cut = matrix.shape[0] - 3
            exact = sorted(loaded.index.ids[np.argpartition(matrix @ query, cut)[cut:]].tolist())
            built = vault.build(REF, VARS, examples=SPEC)
            assert sorted(built.metadata.example_ids) == exact, "build picked other examples"
            plain = vault.build(REF, VARS).messages[-1]["content"]
            assert plain == vault.render(REF, VARS) == compiled.render(full_vars)
            questions = (f"{VARS['question']} (ticket {i})" for i in range(10**9))

            def build_uncached() -> Any:
                vault.examples.cache.clear_queries()
                return vault.build(REF, {**VARS, "question": next(questions)}, examples=SPEC)

            def floor() -> Any:
                return np.argpartition(matrix @ query, cut)[cut:]

            def floor_one_thread() -> Any:
                with one_blas_thread():
                    return np.argpartition(matrix @ query, cut)[cut:]

            fast = 5 if args.quick else 25  # batches per round
            slow = 40 if args.quick else 200  # calls per round
            cases: dict[str, tuple[Callable[[], Any], bool]] = {
                "compiled render alone": (lambda: compiled.render(full_vars), True),
                "vault.render": (lambda: vault.render(REF, VARS), True),
                "vault.build, no examples": (lambda: vault.build(REF, VARS), True),
                f"vault.build, 3 of {n // 1000}k, query cached": (
                    lambda: vault.build(REF, VARS, examples=SPEC),
                    False,
                ),
                f"vault.build, 3 of {n // 1000}k, query embedded": (build_uncached, False),
                "floor, default BLAS threads": (floor, False),
                "floor, one BLAS thread": (floor_one_thread, False),
                "embed one query (hashing)": (lambda: embedder.embed([VARS["question"]]), False),
            }
            for fn, _ in cases.values():
                fn()  # warm every path once
            samples: dict[str, list[float]] = {name: [] for name in cases}
            with busy(args.busy):
                for _ in range(rounds):
                    for name, (fn, is_fast) in cases.items():
                        samples[name] += (
                            timed_batches(fn, fast) if is_fast else timed_calls(fn, slow)
                        )
            vault.examples.flush_usage()
        finally:
            vault.close()
    med = {name: statistics.median(values) for name, values in samples.items()}
    print(f"\nµs per call, median of {rounds} interleaved rounds (p90 beside)")
    for name, values in samples.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"  {name:<42} {med[name]:10.2f} {p90:10.1f}")
    render, no_ex = med["vault.render"], med["vault.build, no examples"]
    cached = med[f"vault.build, 3 of {n // 1000}k, query cached"]
    fresh = med[f"vault.build, 3 of {n // 1000}k, query embedded"]
    print(
        f"\nbuild without examples / vault.render: {no_ex / render:.2f}x (target <= 2x); "
        f"/ compiled render: {no_ex / med['compiled render alone']:.2f}x"
    )
    print(
        f"build with 3 of {n:,}: median {cached:.0f} µs query cached, {fresh:.0f} µs query "
        f"embedded (target < 300 µs at 10,000); the selection floor alone: "
        f"{med['floor, one BLAS thread']:.0f} µs on one BLAS thread, "
        f"{med['floor, default BLAS threads']:.0f} µs on the default"
    )


if __name__ == "__main__":
    main()
