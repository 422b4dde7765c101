"""Slowloris against a real ``promptvault serve``: resolves keep working, the server recovers.

Starts ``promptvault serve`` (SQLite, fresh home) on a loopback port, measures resolve
latency with no attack, then opens ``--connections`` sockets that send an unfinished request
head and stall, and measures resolve latency again while they hang. Reports how long the
server took to close the half-open connections (``--header-timeout``), its open file
descriptors before, during and after, and the size of its log.

    python bench/slowloris.py                         # 1,000 half-open connections
    python bench/slowloris.py --connections 5000 --max-connections 2000
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _latencies(api: httpx.Client, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        answer = api.get("/v1/prompts/bench/resolve")
        out.append(time.perf_counter() - start)
        assert answer.status_code == 200, answer.text
    return out


def _describe(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    return f"{name}: p50 {p50:.2f} ms, p99 {p99:.2f} ms over {len(values)} resolves"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--header-timeout", type=float, default=10.0)
    parser.add_argument("--max-connections", type=int, default=1000 + 100)
    parser.add_argument("--resolves", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 connections")
    args = parser.parse_args()
    if args.quick:
        args.connections, args.header_timeout, args.resolves = 50, 2.0, 50
        args.max_connections = args.connections + 100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.connections + 512)), hard))

    home = Path(tempfile.mkdtemp(prefix="pv-slowloris-"))
    port = _free_port()
    log = home / "serve.log"
    cmd = [
        *(sys.executable, "-m", "promptvault", "serve", "--port", str(port)),
        *("--header-timeout", str(args.header_timeout)),
        *("--max-connections", str(args.max_connections), "--log-level", "warning"),
    ]
    env = {**os.environ, "PROMPTVAULT_HOME": str(home)}
    env.pop("PROMPTVAULT_DATABASE_URL", None)
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.1)
        key = (home / "admin.key").read_text().strip()
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"})
        api.post("/v1/prompts/bench/versions", json={"template": "Hello {{name}}"})
        fds_idle = _fds(proc.pid)
        quiet = _latencies(api, args.resolves)

        socks = []
        head = b"GET /v1/prompts/bench/resolve HTTP/1.1\r\nHost: x\r\nX-Slow: "
        opened = time.monotonic()
        for _ in range(args.connections):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(head)
            socks.append(sock)
        time.sleep(0.5)
        fds_attack = _fds(proc.pid)
        attacked = _latencies(api, args.resolves)
        for sock in socks:
            sock.setblocking(False)
        pending = list(socks)
        while pending and time.monotonic() - opened < args.header_timeout * 4:
            still = []
            for sock in pending:
                try:
                    if sock.recv(1) == b"":
                        continue
                except BlockingIOError:
                    still.append(sock)
                    continue
                except ConnectionError:
                    continue
                still.append(sock)
            pending = still
            time.sleep(0.05)
        closed_after = time.monotonic() - opened
        fds_after = _fds(proc.pid)
        for sock in socks:
            sock.close()
        api.close()
        print(_describe("no attack", quiet))
        print(_describe(f"{args.connections} half-open connections", attacked))
        print(
            f"half-open connections closed by the server: {args.connections - len(pending)}"
            f"/{args.connections}, all within {closed_after:.1f} s "
            f"(header timeout {args.header_timeout} s)"
        )
        print(f"server fds: idle {fds_idle}, under attack {fds_attack}, after {fds_after}")
        print(f"server log: {log.stat().st_size} bytes")
    finally:
        proc.terminate()
        proc.wait(timeout=15)


if __name__ == "__main__":
    main()
