"""One POST to a webhook endpoint, over a connection to an address checked beforehand.

The standard library's ``http.client`` is used (the core takes no HTTP client dependency)
with its ``connect`` replaced so the TCP connection goes to the resolved, checked address
while the ``Host`` header and, for https, the TLS server name and certificate check use the
URL's host name. Redirects are not followed: a 3xx is a failed delivery.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from promptvault.webhooks.addresses import IPAddress, Target

__all__ = ["Response", "post"]

# Bytes of a response body read (and of a failure's body kept in the log).
_READ_LIMIT = 65536
_ERROR_EXCERPT = 200


@dataclass(frozen=True)
class Response:
    """What came back: a status (None when no answer), the time it took, and why it failed."""

    status_code: int | None
    duration_ms: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, address: IPAddress, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = str(address)

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, address: IPAddress, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._tls)
        self._address = str(address)

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def post(
    target: Target, address: IPAddress, body: bytes, headers: dict[str, str], *, timeout: float
) -> Response:
    """POST ``body`` to ``target`` at ``address``; never raises for network failures."""
    cls = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = cls(target, address, timeout)
    started = time.perf_counter()
    try:
        connection.request(
            "POST", target.path, body=body, headers={**headers, "user-agent": "promptvault"}
        )
        answer = connection.getresponse()
        content = answer.read(_READ_LIMIT)
        elapsed = (time.perf_counter() - started) * 1000
        error = None
        if not 200 <= answer.status < 300:
            excerpt = content[:_ERROR_EXCERPT].decode("utf-8", "replace").strip()
            error = f"HTTP {answer.status}" + (f": {excerpt}" if excerpt else "")
        return Response(answer.status, elapsed, error)
    except (OSError, http.client.HTTPException) as exc:
        elapsed = (time.perf_counter() - started) * 1000
        reason = str(exc) or type(exc).__name__
        return Response(None, elapsed, f"{type(exc).__name__}: {reason}"[:_ERROR_EXCERPT])
    finally:
        connection.close()
