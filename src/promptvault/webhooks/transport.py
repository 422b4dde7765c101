"""POSTs to webhook endpoints, over kept-alive connections to addresses checked beforehand.

The connection goes to the resolved, checked address while the ``Host`` header and, for
https, the TLS server name and certificate check use the URL's host name. Redirects are not
followed: a 3xx is a failed delivery.

:class:`Connections` keeps connections open between deliveries: a TCP (and TLS) handshake
per delivery costs the sending process, and the receiver, more than the request itself,
and the dispatcher shares its process with the server's writers. A connection is kept per
scheme, host, port *and checked address*: every send still resolves and checks the host
first (:mod:`promptvault.webhooks.addresses`), and a name that now resolves to another
address gets a new connection to that one; a kept connection never reaches an address that
was not checked at this send.

HTTP/1.1 is written and read here rather than with ``http.client`` (the core takes no HTTP
client dependency): a webhook is one small POST and its status, and ``http.client`` spends
several times the CPU of the exchange itself on generality (an email parser for the
headers, one object per response) in a process whose writers share the interpreter with
it. Only what a POST's answer can be is handled: a status line, headers, a body framed by
``Content-Length``, chunked encoding or the end of the connection, interim 1xx answers.
One ``webhook_timeout`` bounds the whole exchange, so a receiver answering a byte at a time
cannot hold a sender longer than that.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote

from promptvault.webhooks.addresses import IPAddress, Target

__all__ = ["Connections", "ProtocolError", "Response"]

# Bytes of a response body read (and of a failure's body kept in the log).
_READ_LIMIT = 65536
_ERROR_EXCERPT = 200
# The most of a response's status line and headers read before giving up on it.
_HEAD_LIMIT = 65536
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
# An idle connection is closed after this many seconds (receivers close theirs after a few
# seconds to minutes); at most this many idle ones are kept per endpoint address.
_IDLE_SECONDS = 15.0
_IDLE_PER_KEY = 8
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters sent as they are in a request path; anything else is percent-encoded.
_PATH_SAFE = "/?&=%:@!$'()*+,;~-._[]"

_Key = tuple[str, str, int, str]


@dataclass(frozen=True)
class Response:
    """What came back: a status (None when no answer), the time it took, and why it failed."""

    status_code: int | None
    duration_ms: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class ProtocolError(Exception):
    """The endpoint's answer is not HTTP/1.x as this sender reads it."""


class _Stale(Exception):
    """A kept connection was closed by the receiver before this request got any answer."""


class _Connection:
    """One open connection and the bytes read from it but not yet used."""

    __slots__ = ("buffer", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def dropped(self) -> bool:
        """Whether the receiver closed it (or sent something unasked) while it was idle:
        its socket is readable. Checked before reuse, so a closed one is rarely written to."""
        try:
            poller = select.poll()
            poller.register(self.sock, select.POLLIN | select.POLLERR | select.POLLHUP)
            return bool(poller.poll(0))
        except (OSError, ValueError, AttributeError):  # no poll() here, or a closed socket
            return True


class Connections:
    """Connections to webhook endpoints, kept open between deliveries; thread-safe (each
    connection carries one request at a time)."""

    def __init__(self) -> None:
        self._idle: dict[_Key, list[tuple[float, _Connection]]] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def post(
        self, target: Target, address: IPAddress, body: bytes, headers: dict[str, str], *,
        timeout: float,
    ) -> Response:  # fmt: skip
        """POST ``body`` to ``target`` at ``address``; never raises for network failures."""
        key = (target.scheme, target.host, target.port, str(address))
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        connection: _Connection | None = None
        try:
            request = _request(target, body, headers)
            connection = self._take(key)
            if connection is not None:
                try:
                    status, content, keep = _exchange(connection, request, deadline)
                except _Stale:  # closed by the receiver while idle: once more, anew
                    connection.close()
                    connection = None
            if connection is None:
                connection = self._open(target, address, deadline)
                status, content, keep = _exchange(connection, request, deadline)
        except (OSError, ProtocolError, _Stale) as exc:
            if connection is not None:
                connection.close()
            elapsed = (time.perf_counter() - started) * 1000
            if isinstance(exc, _Stale):
                exc = ProtocolError("the endpoint closed the connection without an answer")
            reason = str(exc) or type(exc).__name__
            return Response(None, elapsed, f"{type(exc).__name__}: {reason}"[:_ERROR_EXCERPT])
        elapsed = (time.perf_counter() - started) * 1000
        if keep:
            self._give_back(key, connection)
        else:
            connection.close()
        error = None
        if not 200 <= status < 300:
            excerpt = content[:_ERROR_EXCERPT].decode("utf-8", "replace").strip()
            error = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
        return Response(status, elapsed, error)

    def close(self) -> None:
        """Close every idle connection; later sends open new ones."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for kept in idle.values():
            for _, connection in kept:
                connection.close()

    def _open(self, target: Target, address: IPAddress, deadline: float) -> _Connection:
        sock = socket.create_connection((str(address), target.port), _left(deadline))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if target.scheme == "https":
                if self._tls is None:  # loading the CA bundle costs milliseconds: once
                    self._tls = ssl.create_default_context()
                sock.settimeout(_left(deadline))
                sock = self._tls.wrap_socket(sock, server_hostname=target.host)
        except BaseException:
            sock.close()
            raise
        return _Connection(sock)

    def _take(self, key: _Key) -> _Connection | None:
        now = time.monotonic()
        stale: list[_Connection] = []
        found = None
        with self._lock:
            kept = self._idle.get(key, [])
            while kept:
                since, connection = kept.pop()
                if now - since < _IDLE_SECONDS and not connection.dropped():
                    found = connection
                    break
                stale.append(connection)
        for connection in stale:
            connection.close()
        return found

    def _give_back(self, key: _Key, connection: _Connection) -> None:
        with self._lock:
            kept = self._idle.setdefault(key, [])
            if len(kept) < _IDLE_PER_KEY:
                kept.append((time.monotonic(), connection))
                return
        connection.close()


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


def _request(target: Target, body: bytes, headers: dict[str, str]) -> bytes:
    host = target.host if target.host.isascii() else target.host.encode("idna").decode()
    host = f"[{host}]" if ":" in host else host
    if target.port != _DEFAULT_PORTS[target.scheme]:
        host = f"{host}:{target.port}"
    path = quote(target.path, safe=_PATH_SAFE)  # non-ASCII as UTF-8 escapes, as browsers do
    lines = [
        f"POST {path} HTTP/1.1",
        f"host: {host}",
        "user-agent: promptvault",
        f"content-length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    if any("\r" in line or "\n" in line for line in lines):  # never a header of its own
        raise ProtocolError("a header holds a line break")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _exchange(connection: _Connection, request: bytes, deadline: float) -> tuple[int, bytes, bool]:
    """Send one request and read its answer: ``(status, body read, whether the connection
    may carry another request)``. Raises :class:`_Stale` when the connection turns out to be
    closed before any byte of an answer arrived."""
    sock = connection.sock
    try:
        sock.settimeout(_left(deadline))
        sock.sendall(request)
        _fill(connection, deadline)
    except (ConnectionResetError, BrokenPipeError) as exc:
        raise _Stale() from exc
    if not connection.buffer:
        raise _Stale()
    return _read_response(connection, deadline)


def _fill(connection: _Connection, deadline: float) -> bool:
    """Read what arrives next into the buffer; False at the end of the connection."""
    connection.sock.settimeout(_left(deadline))
    data = connection.sock.recv(65536)
    connection.buffer += data
    return bool(data)


def _read_response(connection: _Connection, deadline: float) -> tuple[int, bytes, bool]:
    while True:
        status, version, fields = _read_head(connection, deadline)
        if not 100 <= status < 200 or status == 101:
            break  # 1xx answers are interim: the real one follows
    if status == 101:
        raise ProtocolError("the endpoint switched protocols")
    keep = version == "HTTP/1.1" and "close" not in fields.get("connection", "").lower()
    if status in (204, 304):
        return status, b"", keep and not connection.buffer
    encoding = fields.get("transfer-encoding", "").lower()
    if encoding:
        if encoding.rsplit(",", 1)[-1].strip() != "chunked":
            return status, _read_to_end(connection, deadline), False
        content, complete = _read_chunked(connection, deadline)
    elif "content-length" in fields:
        length = fields["content-length"]
        if not _is_decimal(length):
            raise ProtocolError(f"bad content-length {length[:20]!r}")
        content, complete = _read_length(connection, int(length), deadline)
    else:
        return status, _read_to_end(connection, deadline), False
    return status, content, keep and complete and not connection.buffer


def _is_decimal(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also takes "²", which ``int`` refuses."""
    return text.isascii() and text.isdigit()


def _read_head(connection: _Connection, deadline: float) -> tuple[int, str, dict[str, str]]:
    buffer = connection.buffer
    while (end := buffer.find(b"\r\n\r\n")) < 0:
        if len(buffer) > _HEAD_LIMIT:
            raise ProtocolError("the answer's headers are too long")
        if not _fill(connection, deadline):
            raise ProtocolError("the endpoint closed the connection mid-answer")
    head = bytes(buffer[:end]).decode("latin-1")
    del buffer[: end + 4]
    status_line, *lines = head.split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not _is_decimal(code) or rest[3:4] not in ("", " "):
        raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:40]!r}")
    fields: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise ProtocolError(f"a malformed header line: {line[:40]!r}")
        name = name.strip().lower()
        value = value.strip()
        fields[name] = f"{fields[name]}, {value}" if name in fields else value
    return int(code), version, fields


def _read_length(connection: _Connection, length: int, deadline: float) -> tuple[bytes, bool]:
    """A body of ``length`` bytes: all of it when it fits the read limit (the connection
    stays usable), else the first bytes (it does not)."""
    wanted = min(length, _READ_LIMIT)
    buffer = connection.buffer
    while len(buffer) < wanted:
        if not _fill(connection, deadline):
            raise ProtocolError("the endpoint closed the connection mid-answer")
    content = bytes(buffer[:wanted])
    del buffer[:wanted]
    return content, length <= _READ_LIMIT


def _read_chunked(connection: _Connection, deadline: float) -> tuple[bytes, bool]:
    content = bytearray()
    buffer = connection.buffer
    while True:
        while (end := buffer.find(b"\r\n")) < 0:
            if len(buffer) > _HEAD_LIMIT or not _fill(connection, deadline):
                raise ProtocolError("a malformed chunked answer")
        size_text = bytes(buffer[:end]).split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_text):  # int(..., 16) also takes "-1", "0x1", "1_0"
            raise ProtocolError(f"a malformed chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        del buffer[: end + 2]
        if size == 0:
            while (end := buffer.find(b"\r\n")) != 0:  # trailers, up to the empty line
                if end > 0:
                    del buffer[: end + 2]
                elif len(buffer) > _HEAD_LIMIT or not _fill(connection, deadline):
                    raise ProtocolError("a malformed chunked answer")
            del buffer[:2]
            return bytes(content), True
        if len(content) + size > _READ_LIMIT:
            return bytes(content), False  # enough read; the connection is not reused
        while len(buffer) < size + 2:
            if not _fill(connection, deadline):
                raise ProtocolError("the endpoint closed the connection mid-answer")
        content += buffer[:size]
        del buffer[: size + 2]


def _read_to_end(connection: _Connection, deadline: float) -> bytes:
    """A body that ends with the connection (up to the read limit)."""
    while len(connection.buffer) < _READ_LIMIT and _fill(connection, deadline):
        pass
    return bytes(connection.buffer[:_READ_LIMIT])
