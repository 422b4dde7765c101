"""Server throughput: resolve req/s and p50/p99 at concurrency 32, next to a bare Starlette app.

Starts ``promptvault serve --workers 2 --demo`` on a loopback port (SQLite, then
PostgreSQL), and a bare Starlette app that answers the same URL with the same JSON bytes
from a constant (``bench/bare_app.py``), also with 2 uvicorn workers. A separate
load-generator process (``wrk`` when installed, else this script's own asyncio+httpx
generator) drives them in interleaved rounds (``--duration`` seconds each in all), pinned
to the last CPU while the servers keep the others (when there are two or more), and the
servers' CPU time per request is reported beside req/s, with the spread of the per-round
ratios (each round's two runs are back to back, so it shows how much the machine's other
load moved the figure) and the system load average. The bare peer routes through
Starlette's router: it has no pre-router fast path like promptvault's resolve, and it
answers with fewer headers (no ETag or security headers); the output says both. Then
``--soak`` seconds of load on promptvault, reporting the server processes' RSS at the start
and at the end.

    python bench/server.py                          # both databases, 10 s runs, 30 s soak
    python bench/server.py --db sqlite --soak 600   # the full 10-minute soak
    python bench/server.py --quick                  # smoke run: SQLite, 1 s rounds

Targets: >= 50% of the bare app's throughput, p99 < 50 ms, no errors, flat memory; server
CPU per resolve within 1.2x of the bare peer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
POSTGRES = os.environ.get(
    "PROMPTVAULT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PATH = "/v1/prompts/customer_support/resolve"


ROUNDS = 3  # interleaved rounds per contender


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process exited early ({proc.returncode}) for {url}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not become ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tree_pids(pid: int) -> list[int]:
    """A process and all its descendants (Linux /proc)."""
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


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process tree (Linux /proc)."""
    ticks = 0
    for current in tree_pids(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def pin(pid: int, cpus: set[int] | None) -> None:
    """Keep a process tree on ``cpus`` (None: leave it alone)."""
    if cpus is None or not hasattr(os, "sched_setaffinity"):
        return
    for current in tree_pids(pid):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(current, cpus)


def split_cpus() -> tuple[set[int] | None, set[int] | None]:
    """(server cpus, load generator cpus): the generator on the last CPU, away from the
    workers, when there are at least two; otherwise no pinning."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return set(cpus[:-1]), {cpus[-1]}


SERVER_CPUS, LOAD_CPUS = split_cpus()


def _pin_load_generator() -> None:
    if LOAD_CPUS is not None:
        os.sched_setaffinity(0, LOAD_CPUS)


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB (Linux /proc)."""
    total_kb = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total_kb += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                todo.extend(int(c) for c in children)
        except (OSError, AttributeError):
            continue
    return total_kb / 1024


# --- load generation ---------------------------------------------------------------------


def _seconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def run_wrk(url: str, key: str, duration: float, concurrency: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{concurrency}",
            f"-d{int(duration)}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {key}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=_pin_load_generator,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(g) for g in sock.groups()) if sock else 0
    )
    return {
        "requests": total,
        "errors": errors,
        "rps": rps,
        "p50_ms": _seconds(pct["50"]) * 1e3,
        "p99_ms": _seconds(pct["99"]) * 1e3,
    }


async def _load(url: str, key: str, duration: float, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=10) as client:
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    response = await client.get(url)
                    if response.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1e3,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1e3,
    }


def run_python(url: str, key: str, duration: float, concurrency: int) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--load-url",
            url,
            "--load-key",
            key,
            "--duration",
            str(duration),
            "--concurrency",
            str(concurrency),
        ],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=_pin_load_generator,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _cpu_us(run: dict[str, Any]) -> float:
    return float(run["cpu_s"]) / max(int(run["requests"]), 1) * 1e6


def _load_average() -> str:
    if not hasattr(os, "getloadavg"):
        return "n/a"
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# --- one database --------------------------------------------------------------------------


def bench_database(kind: str, args: argparse.Namespace, load: Any) -> list[str]:
    home = Path(tempfile.mkdtemp(prefix="pv-bench-"))
    pg_name = None
    env = {**os.environ, "PROMPTVAULT_HOME": str(home)}
    env.pop("PROMPTVAULT_URL", None)
    if kind == "postgres":
        import psycopg

        admin_dsn = POSTGRES.replace("postgresql+psycopg://", "postgresql://", 1)
        pg_name = f"pv_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        env["PROMPTVAULT_DATABASE_URL"] = f"{POSTGRES.rpartition('/')[0]}/{pg_name}"
    else:
        env.pop("PROMPTVAULT_DATABASE_URL", None)
    port, bare_port = free_port(), free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "promptvault",
            "serve",
            "--demo",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bare = None
    lines: list[str] = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz", server)
        key = (home / "admin.key").read_text().strip()
        answer = httpx.get(f"{base}{PATH}", headers={"Authorization": f"Bearer {key}"})
        body = answer.text
        bare = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "bare_app.py"),
                "--port",
                str(bare_port),
                "--workers",
                str(args.workers),
            ],
            # Same socket set-up as promptvault serve (TCP_NODELAY), so only the app differs.
            env={**env, "BENCH_BODY": body, "PYTHONPATH": str(HERE)},
            cwd=str(HERE),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        bare_base = f"http://127.0.0.1:{bare_port}"
        wait_ready(f"{bare_base}{PATH}", bare)
        bare_answer = httpx.get(f"{bare_base}{PATH}")
        assert bare_answer.text == body

        contenders = {
            "bare starlette": (f"{bare_base}{PATH}", bare),
            "promptvault": (f"{base}{PATH}", server),
        }
        for _, proc in contenders.values():
            pin(proc.pid, SERVER_CPUS)
        for url, _ in contenders.values():
            load(url, key, 1, args.concurrency)  # warm-up
        # Interleaved rounds: background load hits both contenders alike.
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
        for _ in range(ROUNDS):
            for name, (url, proc) in contenders.items():
                cpu = tree_cpu_seconds(proc.pid)
                r = load(url, key, max(1.0, args.duration / ROUNDS), args.concurrency)
                r["cpu_s"] = tree_cpu_seconds(proc.pid) - cpu
                rounds[name].append(r)
        # Each round's two contenders ran back to back, under about the same background load:
        # the spread of their ratios shows how far that load moved the figure.
        round_ratios = sorted(
            _cpu_us(pv) / _cpu_us(peer)
            for pv, peer in zip(rounds["promptvault"], rounds["bare starlette"], strict=True)
        )
        results = {}
        for name, runs in rounds.items():
            requests = sum(r["requests"] for r in runs)
            results[name] = {
                "rps": statistics.median(r["rps"] for r in runs),
                "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                "p99_ms": max(r["p99_ms"] for r in runs),
                "errors": sum(r["errors"] for r in runs),
                "requests": requests,
                "cpu_us": sum(r["cpu_s"] for r in runs) / max(requests, 1) * 1e6,
            }
        for name, r in results.items():
            lines.append(
                f"{kind:<9}{name:<16}{r['rps']:>10.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                f"{r['errors']:>8}{r['requests']:>10}{r['cpu_us']:>12.0f}"
            )
        cpu_ratio = results["promptvault"]["cpu_us"] / results["bare starlette"]["cpu_us"]
        lines.append(
            f"{kind:<9}server CPU per request: promptvault / bare = {cpu_ratio:.2f}x"
            f" (target <= 1.2x; rounds {round_ratios[0]:.2f}x-{round_ratios[-1]:.2f}x)"
        )
        lines.append(
            f"{kind:<9}  the bare peer routes through Starlette's router (no pre-router fast"
            " path like promptvault's resolve) and answers the same body with"
            f" {len(bare_answer.headers)} headers to promptvault's {len(answer.headers)}"
            " (ETag, Cache-Control, security headers), each of which h11 validates per"
            " response"
        )
        ratio = results["promptvault"]["rps"] / results["bare starlette"]["rps"]
        p99 = results["promptvault"]["p99_ms"]
        errors = results["promptvault"]["errors"]
        verdict = "OK" if ratio >= 0.5 and p99 < 50 and errors == 0 else "MISSED"
        lines.append(
            f"{kind:<9}promptvault / bare = {ratio:.0%} (>= 50%), p99 {p99:.1f} ms (< 50), "
            f"errors {errors}: {verdict}"
        )
        stop(bare)
        bare = None
        if args.soak > 0:
            before = tree_rss_mb(server.pid)
            soak = load(f"{base}{PATH}", key, args.soak, args.concurrency)
            after = tree_rss_mb(server.pid)
            lines.append(
                f"{kind:<9}soak {args.soak:.0f}s: {soak['requests']} requests, "
                f"{soak['errors']} errors, {soak['rps']:.0f} req/s, p99 {soak['p99_ms']:.1f} ms; "
                f"RSS {before:.1f} MiB -> {after:.1f} MiB ({after - before:+.1f})"
            )
    finally:
        if bare is not None:
            stop(bare)
        stop(server)
        shutil.rmtree(home, ignore_errors=True)
        if pg_name:
            import psycopg

            with psycopg.connect(admin_dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--soak", type=float, default=30.0, help="seconds of soak (0: none)")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--load-url", help=argparse.SUPPRESS)
    parser.add_argument("--load-key", help=argparse.SUPPRESS)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: SQLite, 1 s per run, no soak"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.db, args.duration, args.soak, args.concurrency = "sqlite", 1.0, 0.0, 8

    if args.load_url:  # the load-generator process
        result = asyncio.run(_load(args.load_url, args.load_key, args.duration, args.concurrency))
        print(json.dumps(result))
        return 0

    use_wrk = args.generator == "wrk" or (args.generator == "auto" and shutil.which("wrk"))
    load = run_wrk if use_wrk else run_python
    print(
        f"resolve at concurrency {args.concurrency}, {args.workers} workers, "
        f"{args.duration:.0f} s per run, load generator: {'wrk' if use_wrk else 'asyncio+httpx'}"
    )
    pinned = (
        f"load generator on CPU {sorted(LOAD_CPUS)}, servers on {sorted(SERVER_CPUS)}"
        if LOAD_CPUS is not None and SERVER_CPUS is not None
        else "no CPU pinning (one CPU)"
    )
    print(f"{ROUNDS} interleaved rounds per contender (req/s, p50: median; p99: worst); {pinned}")
    print(
        f"{'db':<9}{'app':<16}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'requests':>10}"
        f"{'CPU µs/req':>12}"
    )
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    for kind in kinds:
        print(f"load average before {kind}: {_load_average()}", flush=True)
        for line in bench_database(kind, args, load):
            print(line, flush=True)
    print(f"load average at the end: {_load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
