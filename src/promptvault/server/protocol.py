"""HTTP semantics every route shares: HEAD, OPTIONS and ``Allow``, and security headers.

* ``HEAD`` is answered wherever ``GET`` is: the request runs as a ``GET`` and the body is
  dropped, so headers (``Content-Length``, ``ETag``) are exactly those of the ``GET``.
* ``OPTIONS`` on a path some route serves answers 204 with ``Allow`` listing every method
  any route accepts there (routes for one path are separate objects, so the router's own
  405 would name only the first); a 405 carries the same list.
* Every response carries the security headers (``nosniff``, no framing, a strict
  Content-Security-Policy), redirects and errors included; a response that sets one of
  them itself (static files, the API docs) keeps its own value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from starlette.routing import Match, Mount

from promptvault.server.metrics import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "SECURITY_HEADERS",
    "HttpSemanticsMiddleware",
    "allowed_methods",
    "with_security_headers",
]

# No inline script or style anywhere: a payload that slipped past escaping still could not
# run. Pages are never framed.
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_RAW_SECURITY = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


_PROBED = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _first_full_match(routes: Iterable[Any], scope: Scope) -> Any | None:
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None


def _matching_route(routes: Iterable[Any], scope: Scope) -> tuple[Any | None, list[str]]:
    """The route a GET (else any method) would reach, and every method some route accepts.

    Each method is probed through the routes' own matching, in routing order, so the
    answer is what the router would really do (a ``DELETE`` on ``/v1/prompts/a/resolve``
    reaches the archive route of a prompt named ``a/resolve``).
    """
    methods: list[str] = []
    first = None
    for method in _PROBED:
        route = _first_full_match(routes, {**scope, "method": method})
        if route is None:
            continue
        # A mount (static files) matches every method but serves only GET and HEAD.
        if isinstance(route, Mount) and method != "GET":
            continue
        first = first or route
        methods.append(method)
    return first, methods


def allowed_methods(routes: Iterable[Any], scope: Scope) -> list[str]:
    """Every method some route accepts on the request's path (empty: no route matches).

    ``HEAD`` comes with ``GET`` and ``OPTIONS`` with any match, as this module answers them.
    """
    _, methods = _matching_route(routes, scope)
    if not methods:
        return []
    if "GET" in methods:
        methods.insert(1, "HEAD")
    return [*methods, "OPTIONS"]


def with_security_headers(headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` and, after them, each security header they do not set themselves."""
    present = {name.lower() for name, _ in headers}
    return [*headers, *((n, v) for n, v in _RAW_SECURITY if n not in present)]


class HttpSemanticsMiddleware:
    """Pure ASGI middleware for HEAD, OPTIONS and the security headers (see module doc)."""

    def __init__(self, app: ASGIApp, routes: Sequence[Any]) -> None:
        self.app = app
        self.routes = routes  # the router's live list: routes added later count too

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope.get("method")
        if method == "OPTIONS":
            route, _ = _matching_route(self.routes, scope)
            if route is not None:
                scope["route"] = route  # the metrics label
                await self._options(allowed_methods(self.routes, scope), send)
                return
        head = method == "HEAD"

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = with_security_headers(list(message.get("headers", [])))
            elif head and message["type"] == "http.response.body" and message.get("body"):
                message = dict(message)
                message["body"] = b""
            await send(message)

        if not head:
            await self.app(scope, receive, send_secured)
            return
        # The GET runs on a copy of the scope: the server's own scope must still say HEAD
        # (it decides from it that no body goes on the wire). What the router learnt (the
        # matched route, for the metrics label) is copied back.
        inner = dict(scope)
        inner["method"] = "GET"
        try:
            await self.app(inner, receive, send_secured)
        finally:
            if "route" in inner:
                scope["route"] = inner["route"]

    @staticmethod
    async def _options(allow: list[str], send: Send) -> None:
        headers = with_security_headers(
            [(b"allow", ", ".join(allow).encode()), (b"content-length", b"0")]
        )
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
