"""A real HTTP receiver on loopback for webhook tests: records every request it gets."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    path: str
    peer: tuple[str, int] = ("", 0)  # the sender's address and port: one per connection
    local: str = ""  # the address the sender connected to

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """``answer(request) -> status`` decides each response (200 by default)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    answer: Callable[[Received], int] = lambda r: 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, received: Received) -> int:
        with self.lock:
            self.requests.append(received)
        return self.answer(received)

    def ids(self) -> list[str]:
        with self.lock:
            return [r.id for r in self.requests]

    def unique(self) -> list[Received]:
        """What a receiver deduplicating by ``webhook-id`` keeps, in arrival order."""
        seen: set[str] = set()
        out = []
        with self.lock:
            for r in self.requests:
                if r.id not in seen:
                    seen.add(r.id)
                    out.append(r)
        return out


@contextmanager
def receiver(host: str = "127.0.0.1") -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            got = Received(
                {k.lower(): v for k, v in self.headers.items()},
                body,
                self.path,
                peer=(str(self.client_address[0]), int(self.client_address[1])),
                local=str(self.connection.getsockname()[0]),
            )
            status = state.record(got)
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://{host}:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
