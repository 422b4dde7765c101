"""The sender's HTTP/1.1: connections kept between deliveries (and replaced when the
receiver closed them, or when the host now resolves elsewhere), every way an answer can be
framed, and one timeout for the whole exchange."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from promptvault import Vault
from promptvault.webhooks import transport
from promptvault.webhooks.addresses import parse_url
from promptvault.webhooks.dispatcher import Dispatcher
from promptvault.webhooks.transport import Connections, Response

from .conftest import fast_settings
from .receiver import receiver

LOOPBACK = ipaddress.ip_address("127.0.0.1")
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


@dataclass
class Reply:
    data: bytes
    close: bool = False  # close the connection after the answer (without saying so)
    trickle: float = 0.0  # seconds between bytes


class Endpoint:
    """A TCP endpoint answering each request with the next scripted reply."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[bytes] = []
        self.connections = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                with self.lock:
                    self.requests.append(head + b"\r\n\r\n" + buffer[:length])
                    reply = self.replies.pop(0)
                buffer = buffer[length:]
                try:
                    if reply.trickle:
                        for i in range(len(reply.data)):
                            conn.sendall(reply.data[i : i + 1])
                            time.sleep(reply.trickle)
                    else:
                        conn.sendall(reply.data)
                except OSError:
                    return
                if reply.close:
                    return

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def endpoint() -> Iterator[Any]:
    made: list[Endpoint] = []

    def make(*replies: Reply) -> Endpoint:
        made.append(Endpoint(list(replies)))
        return made[-1]

    yield make
    for e in made:
        e.close()


def _post(connections: Connections, url: str, timeout: float = 10.0) -> Response:
    return connections.post(
        parse_url(url), LOOPBACK, b'{"a":1}', {"content-type": "application/json"},
        timeout=timeout,
    )  # fmt: skip


def test_one_connection_carries_many_posts(endpoint: Any) -> None:
    e = endpoint(Reply(OK), Reply(OK), Reply(OK))
    connections = Connections()
    answers = [_post(connections, e.url) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert e.connections == 1
    first = e.requests[0]
    assert first.startswith(b"POST /hook HTTP/1.1\r\n")
    assert f"host: 127.0.0.1:{e.port}\r\n".encode() in first
    assert b"content-length: 7\r\n" in first and first.endswith(b'\r\n\r\n{"a":1}')
    connections.close()


def test_answers_of_every_framing(endpoint: Any) -> None:
    e = endpoint(
        Reply(b"HTTP/1.1 100 Continue\r\n\r\n" + OK),
        Reply(
            b"HTTP/1.1 500 Internal\r\ntransfer-encoding: chunked\r\n\r\n"
            b"5\r\nboom!\r\n3;ext=1\r\nabc\r\n0\r\nx-trailer: 1\r\n\r\n"
        ),
        Reply(b"HTTP/1.1 204 No Content\r\n\r\n"),
        Reply(b"HTTP/1.1 503 Busy\r\n\r\nuntil the end", close=True),
        Reply(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"),
        Reply(b"HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n"),
    )
    connections = Connections()
    answers = [_post(connections, e.url) for _ in range(6)]
    assert [(a.status_code, a.error) for a in answers] == [
        (200, None),
        (500, "HTTP 500: boom!abc"),
        (204, None),
        (503, "HTTP 503: until the end"),
        (200, None),
        (302, "HTTP 302"),  # redirects are not followed
    ]
    # The first four shared a connection (the fourth ended it), the fifth asked for its
    # own to close: three connections for six posts.
    assert e.connections == 3
    connections.close()


def test_large_or_malformed_answers(endpoint: Any) -> None:
    big = b"x" * 100_000
    e = endpoint(
        Reply(b"HTTP/1.1 413 Too Large\r\ncontent-length: 100000\r\n\r\n" + big),
        Reply(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        Reply(OK),
    )
    connections = Connections()
    large = _post(connections, e.url)
    assert large.status_code == 413 and large.error == "HTTP 413: " + "x" * 200
    garbage = _post(connections, e.url)  # not reused: the large body was not read whole
    assert garbage.status_code is None
    assert garbage.error is not None and "not an HTTP/1.x status line" in garbage.error
    assert _post(connections, e.url).ok
    assert e.connections == 3


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (b"HTTP/1.1 \xc2\xb200 OK\r\ncontent-length: 2\r\n\r\nok", "not an HTTP/1.x status line"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: \xc2\xb2\r\n\r\nok", "bad content-length"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: -2\r\n\r\nok", "bad content-length"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n-1\r\n", "chunk size"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0x2\r\nok\r\n", "chunk size"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1_0\r\n", "chunk size"),
    ],
)
def test_numbers_python_reads_but_http_does_not_are_refused(
    endpoint: Any, reply: bytes, why: str
) -> None:
    # int() takes "²" (str.isdigit says it is a digit), "-1", "0x2" and "1_0": each one is
    # a logged failure of that delivery, never an exception out of post().
    e = endpoint(Reply(reply), Reply(OK))
    connections = Connections()
    answer = _post(connections, e.url)
    assert answer.status_code is None and answer.error is not None
    assert answer.error.startswith("ProtocolError: ") and why in answer.error, answer.error
    assert _post(connections, e.url).ok  # the next one goes out on a new connection
    assert e.connections == 2
    connections.close()


def test_a_header_with_a_line_break_is_a_failure_not_a_request(endpoint: Any) -> None:
    e = endpoint(Reply(OK))
    connections = Connections()
    answer = connections.post(
        parse_url(e.url), LOOPBACK, b"{}", {"x-evil": "1\r\nx-injected: 1"}, timeout=10
    )
    assert answer.status_code is None
    assert answer.error == "ProtocolError: a header holds a line break"
    assert e.requests == [] and e.connections == 0  # nothing was sent
    connections.close()


def test_a_connection_the_receiver_closed_is_replaced(
    endpoint: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    e = endpoint(*[Reply(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", close=True)] * 3)
    connections = Connections()
    assert _post(connections, e.url).ok
    assert _post(connections, e.url).ok  # seen closed before reuse: a new one
    # A close not seen before sending (it raced the request): sent again, once, anew.
    monkeypatch.setattr(transport._Connection, "dropped", lambda self: False)
    assert _post(connections, e.url).ok
    assert len(e.requests) == 3 and e.connections == 3


def test_one_timeout_bounds_the_whole_exchange(endpoint: Any) -> None:
    # An answer trickling in a byte at a time: every read is quick, the whole is not.
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nx-pad: " + b"a" * 200
    e = endpoint(Reply(head + b"\r\n\r\n", trickle=0.05))
    answer = _post(Connections(), e.url, timeout=0.3)
    assert answer.status_code is None
    assert answer.error is not None and "timed out" in answer.error


def test_a_kept_connection_goes_only_where_the_name_now_resolves(
    sqlite_url: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each send resolves and checks the host again; a kept connection to the address it
    had is not used for another address, allowed or not."""
    answers = {"hooks.example.com": "127.0.0.1"}
    real = socket.getaddrinfo

    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:  # the network edge: DNS
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    allowed = ["127.0.0.1/32", "127.0.0.2/32"]
    with receiver("0.0.0.0") as sink:  # every loopback alias reaches it
        port = int(sink.url.rsplit(":", 1)[1].split("/")[0])
        vault = Vault(fast_settings(sqlite_url, home, webhook_allow_networks=allowed))
        try:
            vault.push("p", template="v1", author="setup")
            _, hook = vault.webhooks.create(f"http://hooks.example.com:{port}/hook", actor="a")
            dispatcher = Dispatcher(vault.webhooks)
            for address in ("127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.3"):
                answers["hooks.example.com"] = address
                vault.push("p", template=f"at {address} {time.monotonic()}", author="setup")
                dispatcher.run_once()
            assert [r.local for r in sink.requests] == ["127.0.0.1", "127.0.0.1", "127.0.0.2"]
            assert sink.requests[0].peer == sink.requests[1].peer  # one kept connection
            refused = vault.webhooks.deliveries(hook.id)[0]
            assert not refused.ok and refused.status_code is None
            assert "127.0.0.3 is a loopback address" in (refused.error or "")
        finally:
            vault.close()
