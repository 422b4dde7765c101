"""The resolve hot path, answered before FastAPI's router and dependency machinery.

``GET /v1/prompts/{name}/resolve`` is what every application calls on every request. Routing
through the full FastAPI stack (route matching over every route, dependency solving, its
own middlewares, response objects) costs several times the resolve itself, so this
middleware recognises the path and calls the same function the endpoint uses
(:func:`~promptvault.server.api.render.resolve_answer`): the same auth, the same errors and
statuses, the same metrics label. Everything else, including HEAD and every other method on
that path, goes through the normal app.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from promptvault.errors import PromptVaultError
from promptvault.server.api.render import ResolveContext, resolve_answer
from promptvault.server.auth import client_address
from promptvault.server.errors import promptvault_error_response
from promptvault.server.metrics import ASGIApp, Receive, Scope, Send

__all__ = ["RESOLVE_TEMPLATE", "ResolveFastPath"]

RESOLVE_TEMPLATE = "/v1/prompts/{name}/resolve"
_PREFIX = "/v1/prompts/"
_SUFFIX = "/resolve"


class _RouteLabel:
    """What the metrics middleware reads from ``scope["route"]``."""

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


class ResolveFastPath:
    """Pure ASGI middleware answering GET resolve directly."""

    def __init__(self, app: ASGIApp, context: ResolveContext) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope.get("method") != "GET"
            or not path.startswith(_PREFIX)
            or not path.endswith(_SUFFIX)
            or len(path) <= len(_PREFIX) + len(_SUFFIX)
        ):
            await self.app(scope, receive, send)
            return
        scope["route"] = _ROUTE
        raw_query = scope.get("query_string", b"")
        query = dict(parse_qsl(raw_query.decode("latin-1"))) if raw_query else {}
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
            await promptvault_error_response(exc)(scope, receive, send)
            return
        headers = [(b"etag", etag.encode()), (b"cache-control", b"no-cache")]
        if status == 200:
            headers.append((b"content-type", b"application/json"))
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
