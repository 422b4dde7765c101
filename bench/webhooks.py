"""Webhook delivery: events/s to a loopback receiver, and what subscriptions cost a write.

1. Throughput: N label moves are committed, then one subscription's dispatcher delivers
   them (signed, logged, cursor moved per event) to a receiver in another process; the
   figure is events/s, beside the floor: the same receiver hit by a bare sequential
   ``http.client`` POST loop (no database, no signing).
2. Write latency: ``set_label`` with 10 enabled subscriptions (the dispatcher delivering
   in background threads of the same process, as in ``promptvault serve``) against none,
   in interleaved rounds, medians. Target: within 1.2x (delivery is asynchronous).

    .venv/bin/python bench/webhooks.py                  # SQLite, 500 events, 10 x 40 moves
    .venv/bin/python bench/webhooks.py --postgres       # the same on PostgreSQL
    .venv/bin/python bench/webhooks.py --quick          # smoke run
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from promptvault import Vault
from promptvault.config import Settings
from promptvault.webhooks.dispatcher import Dispatcher
from registry import fresh_database, postgres_available

NAME = "bench/hooked"


def _receive(port_out: Any, count: Any) -> None:
    """A loopback receiver in its own process: answers 204 and counts what it got."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            with count.get_lock():
                count.value += 1
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.put(server.server_address[1])
    server.serve_forever()


def _settings(url: str, home: Path, poll: float = 0.01) -> Settings:
    return Settings(
        database_url=url,
        home=home,
        webhook_allow_networks=["127.0.0.0/8"],
        webhook_poll_interval=poll,
        webhook_dispatcher=False,
    )


def _floor(port: int, count: Any, n: int) -> float:
    """Events/s of a bare sequential POST loop to the same receiver (no DB, no signing)."""
    body = b'{"type":"label.moved","timestamp":"2030-01-01T00:00:00Z","data":{}}'
    start = time.perf_counter()
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/hook", body=body, headers={"content-type": "application/json"})
        conn.getresponse().read()
        conn.close()
    return n / (time.perf_counter() - start)


def _move(vault: Vault, i: int) -> None:
    vault.set_label(NAME, "staging", 1 + i % 2, actor="bench")


def throughput(url: str, home: Path, port: int, count: Any, events: int) -> float:
    vault = Vault(_settings(url, home))
    try:
        vault.push(NAME, template="one {{x}}", author="bench")
        vault.push(NAME, template="two {{x}}", author="bench")
        vault.webhooks.create(
            f"http://127.0.0.1:{port}/hook", event_types=["label.moved"], actor="bench"
        )
        for i in range(events):
            _move(vault, i)
        with count.get_lock():
            count.value = 0
        dispatcher = Dispatcher(vault.webhooks)
        start = time.perf_counter()
        dispatcher.start()
        while count.value < events:
            time.sleep(0.001)
        elapsed = time.perf_counter() - start
        dispatcher.stop()
        return events / elapsed
    finally:
        vault.close()


def latency(
    url: str, home: Path, port: int, rounds: int, moves: int, poll: float
) -> dict[str, float]:
    """Median set_label seconds with 0 and with 10 enabled subscriptions, interleaved."""
    vault = Vault(_settings(url, home, poll))
    dispatcher = Dispatcher(vault.webhooks)
    try:
        vault.push(NAME, template="one {{x}}", author="bench")
        vault.push(NAME, template="two {{x}}", author="bench")
        hooks = [
            vault.webhooks.create(f"http://127.0.0.1:{port}/hook", actor="bench")[1].id
            for _ in range(10)
        ]
        dispatcher.start()
        samples: dict[str, list[float]] = {"none": [], "10 subscriptions": []}
        for r in range(rounds):
            for key, values in samples.items():
                for hook in hooks:
                    vault.webhooks.set_enabled(hook, key != "none", actor="bench")
                for i in range(moves):
                    start = time.perf_counter()
                    _move(vault, r * moves + i)
                    values.append(time.perf_counter() - start)
        return {key: statistics.median(values) for key, values in samples.items()}
    finally:
        dispatcher.stop()
        vault.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small counts")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL, not SQLite")
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--moves", type=int, default=40)
    args = parser.parse_args()
    if args.quick:
        args.events, args.rounds, args.moves = 40, 2, 8
    kind = "postgres" if args.postgres else "sqlite"
    if kind == "postgres" and not postgres_available():
        raise SystemExit("PostgreSQL is not reachable (PROMPTVAULT_TEST_POSTGRES_URL)")
    ctx = mp.get_context("spawn")
    port_q, count = ctx.Queue(), ctx.Value("i", 0)
    receiver = ctx.Process(target=_receive, args=(port_q, count), daemon=True)
    receiver.start()
    port = int(port_q.get(timeout=60))
    load = os.getloadavg()
    print(f"webhooks on {kind}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            floor = _floor(port, count, args.events)
            with fresh_database(kind, home) as url:
                rate = throughput(url, home, port, count, args.events)
            print(f"  delivery, 1 endpoint, {args.events} events            {rate:>7,.0f} events/s")
            print(f"  floor: bare POST loop, same receiver               {floor:>7,.0f} events/s")
            # The default poll (1 s), and a tight one that keeps delivery busy throughout.
            for poll in (1.0, 0.05):
                with fresh_database(kind, home) as url:
                    med = latency(url, home, port, args.rounds, args.moves, poll)
                none, ten = med["none"], med["10 subscriptions"]
                label = f"  set_label median, poll {poll:g} s,"
                print(f"{label} no subscriptions   {none * 1000:>7.2f} ms")
                print(f"{label} 10 subscriptions   {ten * 1000:>7.2f} ms   "
                      f"({ten / none:.2f}x; target <= 1.2x)")  # fmt: skip
    finally:
        receiver.terminate()
    print(f"  load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
