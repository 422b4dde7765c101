"""Experiments benchmark: assignment speed, split balance, analysis time (and ingestion).

Measured in one run, next to their peers:

* assignment ns/call -- the md5-modulo split teams use today
  (``int(md5(f"{exp}:{user}").hexdigest(), 16) % 100 < 50``), a pure-Python FNV-1a with the
  seed prefix pre-hashed, and ``Assigner.variant`` / ``Assigner.assign`` with the default
  settings (no cache: every call hashes), and with a cache both cold (ids never seen: hash
  + insert) and warm (repeat ids: a hit), plus ``assign_many`` per id;
  for short ids (``user-123456``) and UUIDs. Rounds are interleaved; the best round counts.
  Figures include the Python loop that calls the function (printed as "empty loop").
  Times are process CPU time, so other processes competing for the cores inflate them less.
* balance -- 100,000 simulated units at 90/10 against the 99.9% binomial band.
* analysis -- ``analyse()`` of a 1,000,000-event experiment from sufficient statistics.
* ingestion -- events/s through ``POST /v1/events`` (the in-process app, JSON and auth
  included) and through ``vault.experiments.ingest()`` directly, on SQLite and PostgreSQL.
* regret -- conversions lost against always serving the best of 3 arms (10%, 11%, 13%) over
  20,000 units, mean of 50 seeds: a fixed equal split, a fixed 90/5/5 split and the bandit
  (Thompson sampling with the default 5% floor, reallocated every 200 units), and how often
  the bandit ends with the best arm on top.
* SDK events -- ``record_outcome`` offered at 50,000 events/s for 10 s through the SDK's
  background sender to a server on SQLite in another process: events/s, dropped, lost.

    .venv/bin/python bench/experiments.py            # full run
    .venv/bin/python bench/experiments.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
import uuid
from collections.abc import Callable, Sequence

import numpy as np

from promptvault.experiments import stats
from promptvault.experiments.analysis import MetricData, analyse
from promptvault.experiments.assignment import Assigner
from promptvault.experiments.distributions import norm_ppf

SEED = "support-exp-2024"
FNV_PRIME = 16777619


def md5_modulo(exp: str, user: str) -> bool:
    """The approach to beat, verbatim."""
    return int(hashlib.md5(f"{exp}:{user}".encode()).hexdigest(), 16) % 100 < 50


def make_fnv1a(seed: str) -> Callable[[str], int]:
    """Pure-Python 32-bit FNV-1a of ``seed:unit``, the seed prefix hashed once."""
    h0 = 0x811C9DC5
    for byte in f"{seed}:".encode():
        h0 = ((h0 ^ byte) * FNV_PRIME) & 0xFFFFFFFF

    def fnv(unit: str) -> int:
        h = h0
        for byte in unit.encode():
            h = ((h ^ byte) * FNV_PRIME) & 0xFFFFFFFF
        return h

    return fnv


def _loop(fn: Callable[[str], object], ids: Sequence[str]) -> float:
    start = time.process_time()
    for u in ids:
        fn(u)
    return time.process_time() - start


def bench_assignment(count: int, rounds: int) -> None:
    print("\n== assignment: ns per call (best of interleaved rounds)")
    for label, ids in [
        ("short ids (user-NNNNNN)", [f"user-{i:06d}" for i in range(count)]),
        ("UUID ids", [str(uuid.UUID(int=i * 0x9E3779B97F4A7C15 % 2**128)) for i in range(count)]),
    ]:
        fnv = make_fnv1a(SEED)
        best: dict[str, float] = {}

        def record(name: str, seconds: float, best: dict[str, float] = best) -> None:
            best[name] = min(best.get(name, math.inf), seconds / count * 1e9)

        for _ in range(rounds):
            record("empty loop", _loop(lambda u: None, ids))
            record("md5-modulo", _loop(lambda u: md5_modulo(SEED, u), ids))
            record("FNV-1a pure Python", _loop(fnv, ids))
            bare = Assigner(SEED, ["control", "treatment"], [0.5, 0.5])
            record("variant() (default)", _loop(bare.variant, ids))
            record("assign() (default)", _loop(bare.assign, ids))
            warm_v = Assigner(SEED, ["control", "treatment"], [0.5, 0.5], cache_size=2 * count)
            record("variant() cache, cold", _loop(warm_v.variant, ids))
            record("variant() cache, warm", _loop(warm_v.variant, ids))
            warm_a = Assigner(SEED, ["control", "treatment"], [0.5, 0.5], cache_size=2 * count)
            record("assign() cache, cold", _loop(warm_a.assign, ids))
            record("assign() cache, warm", _loop(warm_a.assign, ids))
            batch = Assigner(SEED, ["control", "treatment"], [0.5, 0.5])
            start = time.process_time()
            batch.assign_many(ids)
            record("assign_many() per id", time.process_time() - start)
        md5 = best["md5-modulo"]
        print(f"-- {label}, {count:,} ids x {rounds} rounds")
        for name, ns in best.items():
            ratio = "" if name == "empty loop" else f"   {md5 / ns:5.2f}x vs md5-modulo"
            print(f"   {name:24s} {ns:8.0f} ns{ratio}")


def bench_balance(units: int) -> None:
    print(f"\n== balance: {units:,} simulated units at 90/10")
    assigner = Assigner("balance-check", ["control", "treatment"], [0.9, 0.1])
    ids = [f"sim-user-{i}" for i in range(units)]
    counts = [0, 0]
    for v in assigner.assign_many(ids):
        counts[0 if v == "control" else 1] += 1
    z = norm_ppf(1 - 0.001 / 2)
    for name, share, got in [("control", 0.9, counts[0]), ("treatment", 0.1, counts[1])]:
        mean = units * share
        sd = math.sqrt(units * share * (1 - share))
        low, high = math.ceil(mean - z * sd), math.floor(mean + z * sd)
        verdict = "inside" if low <= got <= high else "OUTSIDE"
        print(f"   {name:10s} {got:7,d}  99.9% band [{low:,}, {high:,}]  {verdict}")
    result = stats.srm(counts, [0.9, 0.1])
    print(f"   SRM chi-square p = {result.p_value:.4f} (mismatch: {result.mismatch})")


def _experiment(
    events: int, variants: int, rng: np.random.Generator
) -> tuple[list[str], list[int], list[float], list[MetricData]]:
    names = ["control"] + [f"v{i}" for i in range(1, variants)]
    weights = [0.9] + [0.1 / (variants - 1)] * (variants - 1)
    exposures = rng.multinomial(events // 2, weights).tolist()
    conv: dict[str, stats.Summary] = {}
    score: dict[str, stats.Summary] = {}
    for k, (name, n) in enumerate(zip(names, exposures, strict=True)):
        succ = int(rng.binomial(n, 0.10 + 0.004 * k))
        conv[name] = stats.Summary(n, float(succ), float(succ))
        mean, sd = 4.0 + 0.02 * k, 1.1
        total = mean * n + rng.normal(0, sd * math.sqrt(n))
        conv_sq = (n - 1) * sd * sd + total * total / n
        score[name] = stats.Summary(n, float(total), float(conv_sq))
    metrics = [
        MetricData("resolved", "binary", conv),
        MetricData("rating", "continuous", score),
    ]
    return names, exposures, weights, metrics


def bench_analysis(events: int, repeats: int) -> None:
    print(f"\n== analysis: {events:,} events (exposures + outcomes) from sufficient statistics")
    rng = np.random.default_rng(1)
    for variants in (2, 3):
        names, exposures, weights, metrics = _experiment(events, variants, rng)
        for mode in ("fixed", "sequential"):
            best = math.inf
            for _ in range(repeats):
                start = time.process_time()
                report = analyse(names, exposures, weights, metrics, mode=mode)
                best = min(best, time.process_time() - start)
            head = report.metrics[0].comparisons[0]
            print(
                f"   {variants} variants, {mode:10s} {best * 1e3:8.1f} ms"
                f"   (resolved: p={head.p_value:.3g}, chance to beat={head.chance_to_beat:.3f})"
            )


def _events(start: int, units: int) -> list[dict[str, object]]:
    """Per unit: one exposure, one binary and one continuous outcome (3 events)."""
    rng = np.random.default_rng(start)
    converted = (rng.random(units) < 0.3).tolist()
    ratings = np.round(rng.normal(4.0, 1.0, units), 3).tolist()
    events: list[dict[str, object]] = []
    for i in range(units):
        unit = f"bench-{start + i}"
        events.append({"type": "exposure", "experiment": "bench", "unit_id": unit})
        events.append(
            {
                "type": "outcome",
                "experiment": "bench",
                "unit_id": unit,
                "metric": "resolved",
                "value": int(converted[i]),
            }
        )
        events.append(
            {
                "type": "outcome",
                "experiment": "bench",
                "unit_id": unit,
                "metric": "rating",
                "value": ratings[i],
            }
        )
    return events


def _postgres_database() -> tuple[str, Callable[[], None]] | None:
    import os

    base = os.environ.get(
        "PROMPTVAULT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    try:
        import psycopg

        admin = base.replace("postgresql+psycopg://", "postgresql://", 1)
        name = f"pv_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # no server here: say so and measure SQLite only
        print(f"   (PostgreSQL not reachable: {exc})")
        return None

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base.rpartition('/')[0]}/{name}", drop


def _ingest_run(url: str, units: int, batch_units: int) -> tuple[float, float, int]:
    """Events/s through POST /v1/events and through the service directly, on ``url``."""
    from starlette.testclient import TestClient

    from promptvault import Vault
    from promptvault.config import Settings
    from promptvault.server.app import create_app

    vault = Vault(Settings(database_url=url))
    try:
        vault.push("bench", template="A {{x}}", author="bench")
        vault.push("bench", template="B {{x}}", author="bench")
        vault.experiments.create(
            "bench",
            prompt="bench",
            variants=[{"name": "a", "version": 1, "weight": 9}, {"name": "b", "version": 2}],
            primary_metric={"name": "resolved", "kind": "binary"},
            guardrails=[{"name": "rating", "kind": "continuous", "tolerance": 0.5}],
        )
        vault.experiments.start("bench")
        app = create_app(vault)
        key = app.state.keys.create("bench", "runtime", actor="bench")[0]
        batches = [_events(i, batch_units) for i in range(0, units, batch_units)]
        total = sum(len(b) for b in batches)
        # Bodies are encoded up front: the figure is the server's work (parse, validate,
        # authorise, store), not the load generator's JSON encoding.
        bodies = [
            json.dumps({"events": batch, "key": f"http-{n}"}).encode()
            for n, batch in enumerate(batches)
        ]
        with TestClient(app) as client:
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            start = time.perf_counter()
            for body, batch in zip(bodies, batches, strict=True):
                answer = client.post("/v1/events", content=body, headers=headers)
                assert answer.status_code == 200 and answer.json()["accepted"] == len(batch)
            http_rate = total / (time.perf_counter() - start)
        direct = [_events(units + i, batch_units) for i in range(0, units, batch_units)]
        start = time.perf_counter()
        for n, batch in enumerate(direct):
            vault.experiments.ingest(batch, key=f"direct-{n}")
        direct_rate = total / (time.perf_counter() - start)
        stored = vault.experiments.stored_totals("bench")
        assert sum(v[0] for (_, m), v in stored.items() if m == "$units") == 2 * units
        return http_rate, direct_rate, total
    finally:
        vault.close()


def bench_ingestion(quick: bool) -> None:
    """Events/s through ``POST /v1/events`` (in-process app) on SQLite and PostgreSQL."""
    import tempfile

    units = 4_000 if quick else 40_000
    batch_units = 1_000  # 3,000 events per batch
    print(
        f"\n== ingestion: {3 * units:,} events (exposure + 2 outcomes per unit) in batches of "
        f"{3 * batch_units:,}, each way"
    )
    targets: list[tuple[str, str, Callable[[], None] | None]] = []
    tmp = tempfile.TemporaryDirectory()
    targets.append(("SQLite", f"sqlite:///{tmp.name}/bench.db", None))
    pg = _postgres_database()
    if pg is not None:
        targets.append(("PostgreSQL", pg[0], pg[1]))
    try:
        for label, url, _ in targets:
            http_rate, direct_rate, total = _ingest_run(url, units, batch_units)
            print(
                f"   {label:10s} POST /v1/events {http_rate:10,.0f} events/s   "
                f"service.ingest() {direct_rate:10,.0f} events/s   ({total:,} events each)"
            )
            verdict = "met" if http_rate >= 20_000 else "NOT met"
            print(f"   {'':10s} target >= 20,000 events/s through the endpoint: {verdict}")
    finally:
        for _, _, drop in targets:
            if drop is not None:
                drop()
        tmp.cleanup()


def _load() -> str:
    import os

    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} CPUs"


def bench_regret(seeds: int, units: int, *, step: int = 200, floor: float = 0.05) -> None:
    """Conversions lost vs always-best for fixed splits and the bandit, simulated."""
    from promptvault.experiments.bandit import binary_best_probabilities

    rates = np.array([0.10, 0.11, 0.13])
    gaps = rates.max() - rates
    print(
        f"\n== regret: 3 arms {', '.join(f'{r:.0%}' for r in rates)}, {units:,} units, "
        f"{seeds} seeds ({_load()})"
    )
    rng = np.random.default_rng(2024)
    results: dict[str, tuple[float, float]] = {}
    for label, fixed in (
        ("equal split", [1 / 3] * 3),
        ("90/5/5", [0.9, 0.05, 0.05]),
        ("bandit", None),
    ):
        weights = np.tile(np.array(fixed or [1 / 3] * 3), (seeds, 1))
        wins, trials, lost = np.zeros((seeds, 3)), np.zeros((seeds, 3)), np.zeros(seeds)
        for _ in range(0, units, step):
            counts = np.array([rng.multinomial(step, w) for w in weights], dtype=np.float64)
            wins += rng.binomial(counts.astype(np.int64), rates)
            trials += counts
            lost += counts @ gaps
            if fixed is None:
                best = binary_best_probabilities(wins, trials, draws=1000, rng=rng)
                weights = floor + (1 - 3 * floor) * best
        picked = float(np.mean(weights.argmax(axis=1) == 2)) if fixed is None else float("nan")
        results[label] = (float(lost.mean()), picked)
    equal = results["equal split"][0]
    for label, (lost_mean, _) in results.items():
        fewer = 1 - lost_mean / equal
        print(f"   {label:12s} {lost_mean:8.1f} conversions lost  ({fewer:+.0%} fewer than equal)")
    bandit_lost, picked = results["bandit"]
    fewer = 1 - bandit_lost / equal
    print(
        f"   target: bandit >= 40% fewer than the equal split: {fewer:.0%} "
        f"{'met' if fewer >= 0.4 else 'NOT met'}; best arm picked in >= 95% of seeds: "
        f"{picked:.0%} {'met' if picked >= 0.95 else 'NOT met'}"
    )


_SERVER = """
import sys, uvicorn
from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app
url, port, key_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
vault = Vault(Settings(database_url=url, bandit_interval=0))
vault.push("bench", template="A", author="bench")
vault.push("bench", template="B", author="bench")
vault.experiments.create("bench", prompt="bench", primary_metric={"name": "resolved"},
    variants=[{"name": "a", "version": 1}, {"name": "b", "version": 2}], start=True)
vault.experiments.check_every = 10**9
app = create_app(vault)
keys = [app.state.keys.create(f"bench-{r}", r, actor="bench")[0] for r in ("runtime", "admin")]
with open(key_file, "w") as out:
    out.write(" ".join(keys))
uvicorn.run(app, host="127.0.0.1", port=port, log_level="error")
"""


def bench_sdk_events(seconds: float, offered: int = 50_000) -> None:
    """``record_outcome`` at ``offered`` events/s through the SDK to a SQLite server."""
    import os
    import socket
    import subprocess
    import sys
    import tempfile

    from promptvault.client import PromptVaultClient

    print(f"\n== SDK events: record_outcome offered at {offered:,}/s for {seconds:g} s ({_load()})")
    tmp = tempfile.TemporaryDirectory()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key_file = os.path.join(tmp.name, "key")
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, f"sqlite:///{tmp.name}/bench.db", str(port), key_file]
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the benchmark server did not start") from None
                time.sleep(0.05)
        with open(key_file) as found:
            key, reader = found.read().split()
        units = [f"u{i}" for i in range(1000)]
        with PromptVaultClient(url, key, timeout=60, event_batch_size=5000) as pv:
            for unit in units:
                pv.record_exposure("bench", unit)
            pv.flush()
            total, tick = int(offered * seconds), offered // 100
            start = time.perf_counter()
            refused = 0
            for n in range(0, total, tick):
                for i in range(n, min(total, n + tick)):
                    refused += not pv.record_outcome("bench", units[i % 1000], "resolved", i % 2)
                pause = start + (n + tick) / offered - time.perf_counter()
                if pause > 0:  # offer no faster than the target rate
                    time.sleep(pause)
            recorded = time.perf_counter() - start
            result = pv.flush()
            drained = time.perf_counter() - start
        with PromptVaultClient(url, reader, timeout=60) as admin:
            report = admin.experiments.report("bench")
        stored = sum(v["n"] for v in report.analysis["metrics"][0]["variants"])
        print(
            f"   recorded {total:,} in {recorded:.2f} s = {total / recorded:,.0f} events/s; "
            f"all sent after {drained:.2f} s = {total / drained:,.0f} events/s end to end"
        )
        print(
            f"   dropped {pv.dropped:,}, refused calls {refused:,}, lost {result.lost:,}, "
            f"stored by the server {stored:,} of {total:,}"
        )
        verdict = "met" if pv.dropped == 0 and stored == total else "NOT met"
        print(f"   target: 0 dropped at {offered:,}/s offered: {verdict}")
    finally:
        server.terminate()
        server.wait(10)
        tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    args = parser.parse_args()
    count, rounds = (5_000, 2) if args.quick else (100_000, 5)
    bench_assignment(count, rounds)
    bench_balance(100_000)
    bench_analysis(1_000_000, 2 if args.quick else 5)
    bench_ingestion(args.quick)
    bench_regret(10 if args.quick else 50, 5_000 if args.quick else 20_000)
    bench_sdk_events(0.2 if args.quick else 10.0)


if __name__ == "__main__":
    main()
