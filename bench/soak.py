"""Soak: a realistic mix for minutes on 2 workers and PostgreSQL, under a slowloris attack.

Starts ``promptvault serve --demo --workers 2`` on a loopback port and a fresh PostgreSQL
database, then runs two client processes for ``--duration`` seconds:

- the load: ``--concurrency`` (32) keep-alive connections sending a realistic mix,
  90% resolve/build (half each), 9% render, 1% writes (a push, or a label move);
- the attack: a slowloris client holding ``--slow`` (1,000) half-open connections, each
  sending an unfinished request head a byte at a time and reconnecting whenever the server
  closes it (which the header timeout does).

Reports throughput, p50/p99 per kind, errors (target 0), the RSS of every server process
at the start and at the end (target: flat within 10%), and the server's open file
descriptors and database connections after the run, against before it (target: equal).

    python bench/soak.py                    # 10 minutes
    python bench/soak.py --duration 120     # 2 minutes
    python bench/soak.py --quick            # a few seconds: checks that it works
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx

POSTGRES = os.environ.get(
    "PROMPTVAULT_BENCH_POSTGRES_URL",
    os.environ.get(
        "PROMPTVAULT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
)
PROMPT = "customer_support"
VARIABLES = {
    "company_name": "Acme",
    "customer_name": "Ada",
    "tier": {"free": False, "pro": True, "enterprise": False},
    "question": "Where is my order?",
}
WRITE_TARGET = "soak_target"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early ({proc.returncode})")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not become ready")


# --- what the server processes hold ------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+)", status)
    return int(match.group(1)) / 1024 if match else 0.0


def open_fds(pids: list[int]) -> int:
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in pids)


def db_connections(admin_dsn: str, name: str) -> int:
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
        ).fetchone()
    return int(row[0]) if row else 0


def snapshot(pids: list[int], admin_dsn: str, db_name: str) -> dict[str, Any]:
    return {
        "rss": {pid: rss_mb(pid) for pid in pids},
        "fds": open_fds(pids),
        "db": db_connections(admin_dsn, db_name),
    }


def settled(
    pids: list[int], admin_dsn: str, db_name: str, target: dict[str, Any], timeout: float
) -> dict[str, Any]:
    """A snapshot once descriptors and connections are back to ``target`` (or at timeout).

    Connections the clients closed are released by the server when it next reads them, and
    idle keep-alives by its keep-alive timeout: wait for that, within a bound.
    """
    deadline = time.monotonic() + timeout
    while True:
        now = snapshot(pids, admin_dsn, db_name)
        done = now["fds"] <= target["fds"] and now["db"] <= target["db"]
        if done or time.monotonic() > deadline:
            return now
        time.sleep(0.5)


# --- the load ----------------------------------------------------------------------------


def choose_kind(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        return "resolve"
    if roll < 0.90:
        return "build"
    if roll < 0.99:
        return "render"
    return "write"


async def _load(base: str, key: str, duration: float, concurrency: int) -> dict[str, Any]:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    # Idle connections are dropped before the server's 5 s keep-alive, as the SDK does
    # (client/_core.py HTTP_LIMITS): equal timeouts race and fail a request now and then.
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0
    )
    headers = {"Authorization": f"Bearer {key}"}
    writes = 0
    async with httpx.AsyncClient(
        base_url=base, limits=limits, headers=headers, timeout=30
    ) as client:
        deadline = time.perf_counter() + duration

        async def request(kind: str) -> httpx.Response:
            nonlocal writes
            if kind == "resolve":
                return await client.get(f"/v1/prompts/{PROMPT}/resolve")
            if kind == "build":
                body = {"variables": VARIABLES}
                return await client.post(f"/v1/prompts/{PROMPT}/build", json=body)
            if kind == "render":
                body = {"variables": VARIABLES}
                return await client.post(f"/v1/prompts/{PROMPT}/render", json=body)
            writes += 1
            if writes % 2:
                body = {"template": f"soak write {writes} {{{{x}}}}"}
                return await client.post(f"/v1/prompts/{WRITE_TARGET}/versions", json=body)
            version = random.randint(1, max(1, writes // 2))
            return await client.put(
                f"/v1/prompts/{WRITE_TARGET}/labels/staging", json={"version": version}
            )

        async def worker(seed: int) -> None:
            rng = random.Random(seed)
            while time.perf_counter() < deadline:
                kind = choose_kind(rng)
                start = time.perf_counter()
                try:
                    response = await request(kind)
                    if response.status_code >= 400:
                        errors[f"{kind} {response.status_code}"] += 1
                except httpx.HTTPError as exc:
                    errors[f"{kind} {type(exc).__name__}"] += 1
                latencies[kind].append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker(seed) for seed in range(concurrency)))
        elapsed = time.perf_counter() - began

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[max(0, int(len(ordered) * q) - 1)] * 1e3 if ordered else 0.0

    every = [x for values in latencies.values() for x in values]
    return {
        "elapsed": elapsed,
        "requests": len(every),
        "rps": len(every) / elapsed,
        "p50_ms": statistics.median(every) * 1e3 if every else 0.0,
        "p99_ms": pct(every, 0.99),
        "kinds": {
            kind: {
                "requests": len(values),
                "p50_ms": statistics.median(values) * 1e3,
                "p99_ms": pct(values, 0.99),
            }
            for kind, values in sorted(latencies.items())
        },
        "errors": dict(errors),
    }


# --- the attack --------------------------------------------------------------------------


async def _slowloris(host: str, port: int, count: int, duration: float) -> dict[str, Any]:
    """Hold ``count`` connections with unfinished request heads for ``duration`` seconds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 256)), hard))
    stats = Counter[str]()
    deadline = time.monotonic() + duration
    held = 0
    peak = 0

    async def one(index: int) -> None:
        nonlocal held, peak
        await asyncio.sleep(index * 0.002)  # ramp up over ~2 s per 1,000
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                stats["connect failed"] += 1
                await asyncio.sleep(0.5)
                continue
            stats["opened"] += 1
            held += 1
            peak = max(peak, held)
            try:
                writer.write(b"GET /v1/prompts HTTP/1.1\r\nHost: soak\r\n")
                await writer.drain()
                while time.monotonic() < deadline:
                    writer.write(b"X-a: b\r\n")  # never the blank line that ends the head
                    await writer.drain()
                    try:
                        data = await asyncio.wait_for(reader.read(1024), timeout=3.0)
                    except TimeoutError:
                        continue
                    if not data or reader.at_eof():
                        stats["closed by server"] += 1
                        break
                    stats["answered"] += 1  # e.g. a 408 or 503 before the close
            except OSError:
                stats["closed by server"] += 1
            finally:
                held -= 1
                writer.close()

    await asyncio.gather(*(one(i) for i in range(count)))
    return {"peak_held": peak, **stats}


def client_process(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)


# --- the run -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of soak")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slow", type=int, default=1000, help="slowloris connections")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds of warm-up")
    parser.add_argument("--quick", action="store_true", help="a few seconds: does it work")
    parser.add_argument("--role", choices=["load", "slowloris"], help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.role == "load":
        result = asyncio.run(_load(args.base, args.key, args.duration, args.concurrency))
        print(json.dumps(result))
        return 0
    if args.role == "slowloris":
        host, _, port = args.base.rpartition(":")
        print(json.dumps(asyncio.run(_slowloris(host, int(port), args.slow, args.duration))))
        return 0
    if args.quick:
        args.duration, args.slow, args.warmup = 5.0, min(args.slow, 100), 3.0

    import psycopg

    admin_dsn = POSTGRES.replace("postgresql+psycopg://", "postgresql://", 1)
    db_name = f"pv_soak_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    url = f"{POSTGRES.rpartition('/')[0]}/{db_name}"
    home = Path(tempfile.mkdtemp(prefix="pv-soak-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "promptvault",
            "serve",
            "--demo",
            "--db",
            url,
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        env={**os.environ, "PROMPTVAULT_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=(home / "serve.log").open("wb"),
    )
    try:
        wait_ready(f"{base}/readyz", server)
        key = (home / "admin.key").read_text().strip()
        auth = {"Authorization": f"Bearer {key}"}
        httpx.post(
            f"{base}/v1/prompts/{WRITE_TARGET}/versions",
            json={"template": "soak write 0 {{x}}"},
            headers=auth,
        ).raise_for_status()
        print(
            f"soak: {args.duration:.0f} s, concurrency {args.concurrency}, "
            f"{args.workers} workers, PostgreSQL, {args.slow} slowloris connections"
        )
        pids = process_tree(server.pid)
        cold = snapshot(pids, admin_dsn, db_name)
        # Warm up under the same load and attack as the soak (caches, connection pools and
        # allocator arenas reach their working size), then let idle connections go: the
        # soak's start is this steady state, so growth after it is what a leak would show.
        warm_attack = client_process(
            "--role", "slowloris", "--base", f"127.0.0.1:{port}",
            "--slow", str(args.slow), "--duration", str(args.warmup + 3),
        )  # fmt: skip
        warm = client_process(
            "--role", "load", "--base", base, "--key", key, "--duration", str(args.warmup),
            "--concurrency", str(args.concurrency),
        )  # fmt: skip
        warm.communicate(timeout=args.warmup + 300)
        warm_attack.communicate(timeout=120)
        # Past the keep-alive timeout the warm-up's connections are closed; the smoke run
        # judges no leak, so it does not wait for that.
        time.sleep(1 if args.quick else 6)
        start = snapshot(pids, admin_dsn, db_name)

        attack = client_process(
            "--role", "slowloris", "--base", f"127.0.0.1:{port}",
            "--slow", str(args.slow), "--duration", str(args.duration + 3),
        )  # fmt: skip
        time.sleep(min(3.0, 1 + args.slow * 0.002))  # the attack is in place first
        load = client_process(
            "--role", "load", "--base", base, "--key", key,
            "--duration", str(args.duration), "--concurrency", str(args.concurrency),
        )  # fmt: skip
        load_out, _ = load.communicate(timeout=args.duration + 300)
        attack_out, _ = attack.communicate(timeout=120)
        result = json.loads(load_out)
        slow = json.loads(attack_out)
        end = settled(pids, admin_dsn, db_name, start, timeout=3 if args.quick else 60)
        alive = server.poll() is None and all(Path(f"/proc/{pid}").exists() for pid in pids)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        shutil.rmtree(home, ignore_errors=True)

    errors = sum(result["errors"].values())
    print(
        f"throughput {result['rps']:.0f} req/s ({result['requests']} requests in "
        f"{result['elapsed']:.0f} s), p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms, errors {errors} {result['errors'] or ''}"
    )
    for kind, figures in result["kinds"].items():
        print(
            f"  {kind:<8}{figures['requests']:>9} requests  p50 {figures['p50_ms']:7.1f} ms  "
            f"p99 {figures['p99_ms']:7.1f} ms"
        )
    print(f"slowloris: {slow}")
    print(
        f"before the {args.warmup:.0f} s warm-up: RSS "
        + ", ".join(f"pid {pid} {mb:.1f} MiB" for pid, mb in cold["rss"].items())
        + f"; open fds {cold['fds']}; db connections {cold['db']}"
    )
    rss_ok = True
    for pid in pids:
        before, after = start["rss"][pid], end["rss"].get(pid, 0.0)
        grew = (after - before) / before if before else 0.0
        rss_ok &= abs(grew) <= 0.10
        print(f"RSS pid {pid}: {before:.1f} MiB -> {after:.1f} MiB ({grew:+.1%})")
    print(f"open fds: {start['fds']} -> {end['fds']}; db connections: {start['db']} -> {end['db']}")
    verdicts = {
        "errors 0": errors == 0,
        "RSS flat within 10%": rss_ok,
        "fds back to start": end["fds"] <= start["fds"],
        "db connections back to start": end["db"] <= start["db"],
        "server alive": alive,
    }
    print("; ".join(f"{name}: {'OK' if ok else 'MISSED'}" for name, ok in verdicts.items()))
    if args.quick:  # seconds are too few for leaks to show: the smoke run checks it works
        verdicts = {name: verdicts[name] for name in ("errors 0", "server alive")}
    return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
