"""Slow and idle clients cannot hold a real ``promptvault serve``: timeout, bound, logs."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from tests.server.live import LiveServer, live_server

from promptvault.server.connections import RepeatFilter

HALF_OPEN = 200


@contextmanager
def _sockets(server: LiveServer, count: int, head: bytes) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        opened = []
        for _ in range(count):
            sock = stack.enter_context(socket.create_connection((server.host, server.port)))
            if head:
                sock.sendall(head)
            opened.append(sock)
        yield opened


def _closed_by_peer(sock: socket.socket) -> bool:
    sock.settimeout(0.05)
    try:
        return sock.recv(65536) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


def _wait_all_closed(socks: list[socket.socket], *, deadline: float) -> None:
    pending = list(socks)
    until = time.monotonic() + deadline
    while pending:
        assert time.monotonic() < until, f"{len(pending)} connections still open"
        pending = [s for s in pending if not _closed_by_peer(s)]


def _push_and_resolve(api: httpx.Client) -> None:
    pushed = api.post("/v1/prompts/greet/versions", json={"template": "hi"})
    assert pushed.status_code in (200, 201), pushed.text


def test_half_open_connections_are_closed_and_resolves_keep_working(tmp_path: Path) -> None:
    home = tmp_path / "home-slow"
    home.mkdir()
    args = ("--header-timeout", "2", "--keep-alive-timeout", "1", "--max-header-bytes", "4096")
    with live_server(home, *args, "--log-level", "warning") as server:
        api = httpx.Client(
            base_url=server.base, headers={"Authorization": f"Bearer {server.admin_key}"}
        )
        _push_and_resolve(api)
        # Unfinished heads, and connections that never send a byte.
        unfinished = b"GET /v1/prompts/greet/resolve HTTP/1.1\r\nHost: x\r\nX-Slow: "
        with _sockets(server, HALF_OPEN, unfinished) as slow, _sockets(server, 20, b"") as idle:
            for _ in range(20):  # the server answers while they hang
                assert api.get("/v1/prompts/greet/resolve").status_code == 200
            _wait_all_closed(slow + idle, deadline=30)
        # A keep-alive client that starts a second request and stalls is cut off too.
        with _sockets(server, 1, b"") as (sock,):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            _wait_all_closed([sock], deadline=30)
        # An idle keep-alive connection closes after --keep-alive-timeout.
        with _sockets(server, 1, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") as (sock,):
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            _wait_all_closed([sock], deadline=30)
        # A request head growing past --max-header-bytes is refused, not buffered.
        big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8192
        with _sockets(server, 1, big) as (sock,):
            sock.settimeout(10)
            assert sock.recv(65536).startswith(b"HTTP/1.1 400")
        assert api.get("/v1/prompts/greet/resolve").status_code == 200
        api.close()


def test_connections_over_the_bound_get_503_and_capacity_returns(tmp_path: Path) -> None:
    home = tmp_path / "home-bound"
    home.mkdir()
    args = ("--header-timeout", "3", "--max-connections", "8", "--log-level", "warning")
    with live_server(home, *args) as server:
        with _sockets(server, 8, b"") as idle:
            with socket.create_connection((server.host, server.port)) as extra:
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                extra.settimeout(10)
                raw = b""
                while b"\r\n\r\n" not in raw or not raw.endswith(b"}"):
                    chunk = extra.recv(65536)
                    if not chunk:
                        break
                    raw += chunk
            head, _, body = raw.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503"), raw
            assert b"connection: close" in head.lower() and b"retry-after: 1" in head.lower()
            assert json.loads(body)["error"]["code"] == "unavailable"
            _wait_all_closed(idle, deadline=30)
        assert httpx.get(f"{server.base}/healthz").status_code == 200


def test_repeated_errors_are_logged_once_per_interval_with_a_count() -> None:
    now = [0.0]
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("promptvault.test.repeat")
    logger.propagate = False
    handler = Collect()
    logger.addHandler(handler)
    quiet = RepeatFilter(10.0, clock=lambda: now[0])
    logger.addFilter(quiet)
    try:
        error = OSError(24, "Too many open files")
        for _ in range(10_000):
            logger.error("accept failed", exc_info=(OSError, error, None))
        logger.warning("Invalid HTTP request received.")
        now[0] = 10.5
        logger.error("accept failed", exc_info=(OSError, error, None))
    finally:
        logger.removeHandler(handler)
        logger.removeFilter(quiet)
    assert records == [
        "accept failed",
        "Invalid HTTP request received.",
        "accept failed (9999 similar messages suppressed)",
    ]
