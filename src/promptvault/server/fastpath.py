"""The resolve hot path, answered before FastAPI's router and promptvault's other middleware.

``GET /v1/prompts/{name}/resolve`` is what every application calls on every request. Routing
through the full FastAPI stack (route matching over every route, dependency solving, its
own middlewares, response objects) costs several times the resolve itself, so this
middleware recognises the path and calls the same function the endpoint uses
(:func:`~promptvault.server.api.render.resolve_answer`): the same auth, the same errors and
statuses, the same metrics label. Everything else, including HEAD and every other method on
that path, goes through the normal app.

It sits outside the metrics and HTTP-semantics middleware, so it does their part for the
requests it answers (one latency observation, the security headers) instead of going
through their send wrappers; the headers of a cached answer are built once and reused.
FastAPI's own request spans and Starlette's error middleware still wrap it.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from promptvault.errors import PromptVaultError
from promptvault.server.api.render import ResolveContext, resolve_answer
from promptvault.server.auth import client_address
from promptvault.server.errors import promptvault_error_response
from promptvault.server.metrics import ASGIApp, Receive, Scope, Send
from promptvault.server.protocol import with_security_headers

__all__ = ["RESOLVE_TEMPLATE", "ResolveFastPath"]

RESOLVE_TEMPLATE = "/v1/prompts/{name}/resolve"
_PREFIX = "/v1/prompts/"
_SUFFIX = "/resolve"
_SHORTEST = len(_PREFIX) + len(_SUFFIX) + 1
_HEADERS_MAX = 10_000  # cached header lists (one per answer body held by the resolve memo)
_QUERIES_MAX = 1_000  # parsed query strings (clients send a few: ``label=production``...)


class _RouteLabel:
    """The template, for readers of ``scope["route"]`` (ASGI tracing middleware, say)."""

    path_format = RESOLVE_TEMPLATE


_ROUTE = _RouteLabel()


def _request_headers(scope: Scope) -> tuple[str | None, str | None]:
    """(API key, If-None-Match) straight from the raw ASGI headers."""
    key = alt = match = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                key = token.strip()
        elif name == b"x-api-key":
            alt = value.decode("latin-1") or None
        elif name == b"if-none-match":
            match = value.decode("latin-1")
    return key or alt, match


def _answer_headers(etag: str, body: bytes | None) -> list[tuple[bytes, bytes]]:
    """The headers of a 200 (with ``body``) or a 304 (``None``), security headers included."""
    headers = [(b"etag", etag.encode()), (b"cache-control", b"no-cache")]
    if body is not None:
        headers.append((b"content-type", b"application/json"))
        headers.append((b"content-length", str(len(body)).encode()))
    return with_security_headers(headers)


class ResolveFastPath:
    """Pure ASGI middleware answering GET resolve directly (see the module doc)."""

    def __init__(self, app: ASGIApp, context: ResolveContext) -> None:
        self.app = app
        self.context = context
        self.metrics = context.metrics
        # id(body) -> (body, headers): the resolve memo hands back the same bytes object
        # for a cached answer, so identity says these headers were made for it.
        self._headers: dict[int, tuple[bytes, list[tuple[bytes, bytes]]]] = {}
        self._queries: dict[bytes, dict[str, str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if not path.startswith(_PREFIX) or not path.endswith(_SUFFIX) or len(path) < _SHORTEST:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        scope["route"] = _ROUTE
        status = 500  # what the metrics say if this raises before answering
        try:
            status = await self._answer(scope, receive, send, path)
        finally:
            self.metrics.observe("GET", RESOLVE_TEMPLATE, status, time.perf_counter() - start)

    def _query(self, raw: bytes) -> dict[str, str]:
        """The parsed query string; the few that clients send are parsed once (read-only)."""
        if not raw:
            return {}
        query = self._queries.get(raw)
        if query is None:
            query = dict(parse_qsl(raw.decode("latin-1")))
            if len(self._queries) >= _QUERIES_MAX:
                self._queries.clear()
            self._queries[raw] = query
        return query

    async def _answer(self, scope: Scope, receive: Receive, send: Send, path: str) -> int:
        query = self._query(scope["query_string"])
        api_key, if_none_match = _request_headers(scope)
        try:
            status, body, etag = await resolve_answer(
                self.context,
                name=path[len(_PREFIX) : -len(_SUFFIX)],
                label=query.get("label"),
                version=query.get("version"),
                api_key=api_key,
                if_none_match=if_none_match,
                client=client_address(scope),
            )
        except PromptVaultError as exc:
            response = promptvault_error_response(exc)
            response.raw_headers = with_security_headers(response.raw_headers)
            await response(scope, receive, send)
            return response.status_code
        if status == 200:
            cached = self._headers.get(id(body))
            if cached is not None and cached[0] is body:
                headers = cached[1]
            else:
                headers = _answer_headers(etag, body)
                if len(self._headers) >= _HEADERS_MAX:
                    self._headers.clear()
                self._headers[id(body)] = (body, headers)
        else:
            headers = _answer_headers(etag, None)
        # A copy: whatever sits outside may change the message's list, never the cached one.
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})
        return status
