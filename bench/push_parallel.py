"""Push throughput with many writers on different prompts, and what they leave behind.

8 processes each push to their own prompt (and, with ``--shared``, all to one prompt) on
PostgreSQL; reports pushes per second and checks every prompt's versions are 1..N with no
gap and the audit chain verifies. Prompt writes to different prompts serialise only at the
audit append, so this shows what the write path lets run side by side.

    .venv/bin/python bench/push_parallel.py                 # 8 writers x 200 pushes
    .venv/bin/python bench/push_parallel.py --pushes 50     # smoke run
    PROMPTVAULT_BENCH_POSTGRES_URL=postgresql+psycopg://... to point at another server
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from promptvault import Vault
from promptvault.config import Settings
from registry import fresh_database, postgres_available


def _worker(url: str, prompt: str, worker: int, count: int, ready: Any, start: Any) -> None:
    vault = Vault(Settings(database_url=url))
    vault.get("seed")  # connected and warmed up before the clock starts
    ready.put(("ready", worker))
    start.wait()
    errors = 0
    for i in range(count):
        try:
            vault.push(prompt, template=f"worker {worker} push {i} {{{{x}}}}", author=f"w{worker}")
        except Exception as exc:  # counted and reported, never hidden
            errors += 1
            print(f"  worker {worker}: {type(exc).__name__}: {exc}", file=sys.stderr)
    # CLOCK_MONOTONIC is system-wide: the parent compares it with its own start time.
    ready.put(("done", time.monotonic(), errors))
    vault.close()


def run(url: str, procs: int, pushes: int, *, shared: bool) -> dict[str, Any]:
    with Vault(Settings(database_url=url)) as vault:
        vault.push("seed", template="migrate first")
    prompts = ["shared"] * procs if shared else [f"prompt-{w}" for w in range(procs)]
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    ready = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(url, prompts[w], w, pushes, ready, start))
        for w in range(procs)
    ]
    for w in workers:
        w.start()
    for _ in workers:
        ready.get(timeout=300)
    began = time.monotonic()
    start.set()
    done = [ready.get(timeout=3600) for _ in workers]
    elapsed = max(d[1] for d in done) - began
    for w in workers:
        w.join()
    with Vault(Settings(database_url=url)) as vault:
        contiguous = all(
            sorted(v.version for v in vault.versions(name))
            == list(range(1, prompts.count(name) * pushes + 1))
            for name in set(prompts)
        )
        audit_ok = vault.audit.verify().ok
    total = procs * pushes
    return {
        "pushes": total,
        "seconds": round(elapsed, 3),
        "per_second": round(total / elapsed, 1),
        "errors": sum(d[2] for d in done),
        "contiguous": contiguous,
        "audit_ok": audit_ok,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--pushes", type=int, default=200, help="pushes per writer")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 writers x 10")
    args = parser.parse_args()
    if args.quick:
        args.procs, args.pushes = 2, 10
    if not postgres_available():
        print("PostgreSQL is not reachable; nothing to measure", file=sys.stderr)
        return 1
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for shared in (False, True):
            with fresh_database("postgres", Path(tmp)) as url:
                result = run(url, args.procs, args.pushes, shared=shared)
            what = "one prompt" if shared else f"{args.procs} prompts"
            print(f"postgres, {args.procs} writers on {what}: {result}")
            print(f"  {result['per_second']:,.1f} pushes/s, {result['seconds']:.2f} s")
            ok = ok and result["contiguous"] and result["audit_ok"] and not result["errors"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
