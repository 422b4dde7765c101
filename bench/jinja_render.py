"""What the hardened Jinja sandbox costs next to plain and stock-sandboxed Jinja2.

Prints nanoseconds per render (median of interleaved batches, CPU time) for the three
render-benchmark workloads, compiled once, and the ratio to Jinja2's own
ImmutableSandboxedEnvironment; compile cost next to Jinja2's own ``from_string``.

    .venv/bin/python bench/jinja_render.py [--batches N] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

sys.path.insert(0, str(Path(__file__).parent))
from promptvault.templating.jinja import JinjaTemplate
from render import workload_a, workload_b, workload_c

TIMER = time.process_time


def measure(
    candidates: dict[str, Callable[[], object]], batches: int, target: float
) -> dict[str, float]:
    """Median ns per call of each candidate, over ``batches`` of about ``target`` seconds."""
    per = {n: _per_batch(f, target) for n, f in candidates.items()}
    samples: dict[str, list[float]] = {n: [] for n in candidates}
    for _ in range(batches):  # interleaved, so load on a shared machine hits all alike
        for name, fn in candidates.items():
            samples[name].append(timeit.Timer(fn, timer=TIMER).timeit(per[name]) / per[name] * 1e9)
    return {n: statistics.median(s) for n, s in samples.items()}


def _per_batch(fn: Callable[[], object], target: float) -> int:
    once = timeit.Timer(fn, timer=TIMER).timeit(10) / 10
    return max(1, int(target / max(once, 1e-9)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="smoke mode: 2 batches")
    args = parser.parse_args(argv)
    batches = 2 if args.quick else args.batches
    target = 0.005 if args.quick else 0.05
    print(f"{'workload':<22}{'candidate':<30}{'ns/render':>12}{'vs stock sandbox':>18}")
    for w in (workload_a(), workload_b(), workload_c()):
        results = run(w.jinja, w.data, batches, target)
        for name, ns in results.items():
            base = results[
                "compile: jinja2 sandbox" if "compile" in name else "jinja2 immutable sandbox"
            ]
            print(f"{w.name:<22}{name:<30}{ns:>12.0f}{ns / base:>17.2f}x")
    return 0


def run(source: str, data: dict[str, Any], batches: int, target: float) -> dict[str, float]:
    """ns per render of each candidate, and per compile, on one workload."""
    env = jinja2.Environment()
    sandbox = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    plain = env.from_string(source)
    stock = sandbox.from_string(source)
    ours = JinjaTemplate(source)
    assert ours.render(data) == stock.render(data) == plain.render(data)
    results = measure(
        {
            "jinja2 plain": lambda: plain.render(data),
            "jinja2 immutable sandbox": lambda: stock.render(data),
            "promptvault jinja strict": lambda: ours.render(data),
            "promptvault jinja lenient": lambda: ours.render(data, strict=False),
            "compile: jinja2 sandbox": lambda: sandbox.from_string(source),
            "compile: promptvault jinja": lambda: JinjaTemplate(source),
        },
        batches,
        target,
    )
    return results


if __name__ == "__main__":
    raise SystemExit(main())
