"""Resolve and render: what applications call on every request (runtime role and up)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response

from promptvault.entities import PromptVersion
from promptvault.errors import InvalidInputError
from promptvault.registry.refs import parse_int
from promptvault.server.api._models import RenderBody, Rendered
from promptvault.server.auth import (
    Permission,
    Resolver,
    authorize_key,
    client_address,
    presented_key,
)
from promptvault.server.deps import VaultDep
from promptvault.server.errors import ERROR_RESPONSES
from promptvault.server.metrics import Metrics
from promptvault.server.ratelimit import AuthGuard
from promptvault.server.singleflight import SingleFlight

__all__ = ["ResolveContext", "resolve_answer", "router"]

router = APIRouter(prefix="/v1/prompts", tags=["resolve"], responses=ERROR_RESPONSES)
_SERIALIZED_MAX = 10_000


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def _pick(label: str | None, version: int | None) -> tuple[str | None, int | None]:
    if label is not None and version is not None:
        raise InvalidInputError(
            "give either label or version, not both", details={"field": "version"}
        )
    return label, version


_RESOLVE_PARAMETERS = [
    {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "Prompt name (may contain slashes).",
        "schema": {"type": "string"},
    },
    {
        "name": "label",
        "in": "query",
        "required": False,
        "description": "Label to resolve (default production).",
        "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    {
        "name": "version",
        "in": "query",
        "required": False,
        "description": "Version number to resolve instead of a label.",
        "schema": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
    },
]


def _query_version(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    return parse_int(raw, field="version", minimum=1)


class ResolveContext:
    """What a resolve needs, gathered in one plain object (no per-request lookups)."""

    __slots__ = ("flight", "guard", "keys", "metrics", "serialized", "ttl", "vault", "warm")

    def __init__(
        self,
        *,
        vault: Any,
        keys: Any,
        metrics: Metrics,
        ttl: float,
        guard: AuthGuard | None = None,
    ) -> None:
        self.vault = vault
        self.keys = keys
        self.guard = guard
        self.metrics = metrics
        self.ttl = ttl
        self.warm: dict[tuple[str, str | None, int | None], float] = {}
        self.serialized: dict[int, tuple[PromptVersion, bytes]] = {}
        self.flight = SingleFlight()


async def resolve_answer(
    ctx: ResolveContext,
    *,
    name: str,
    label: str | None,
    version: str | None,
    api_key: str | None,
    if_none_match: str | None,
    client: str | None = None,
) -> tuple[int, bytes, str]:
    """``(status, body, etag)`` of a resolve; raises promptvault errors.

    Shared by the FastAPI endpoint and the fast path (``server/fastpath.py``) so both
    behave identically.
    """
    await authorize_key(ctx.keys, api_key, Permission.RESOLVE, guard=ctx.guard, client=client)
    picked_label, number = _pick(label or None, _query_version(version))
    vault = ctx.vault
    key = (name, picked_label, number)
    # A reference resolved within the label TTL is in the Vault's cache (or costs one short
    # read to refresh): answer it on the event loop. Anything else (first sight, unknown
    # names) may need several queries and goes to a worker thread.
    warm = ctx.warm
    now = time.monotonic()
    if warm.get(key, 0.0) > now:
        found: PromptVersion = vault.get(name, label=picked_label, version=number)
    else:
        found = await ctx.flight.run(key, vault.get, name, label=picked_label, version=number)
        if len(warm) >= _SERIALIZED_MAX:
            warm.clear()
    warm[key] = now + ctx.ttl
    etag = f'"{found.hash}"'
    metrics = ctx.metrics
    if _etag_matches(if_none_match, etag):
        metrics.resolve_cache("not_modified")
        return 304, b"", etag
    # The Vault hands back the same object while its cache holds it, so identity says
    # whether this answer came from the cache; the JSON of a cached object is reused.
    memo = ctx.serialized
    hit = memo.get(id(found))
    if hit is not None and hit[0] is found:
        metrics.resolve_cache("hit")
        return 200, hit[1], etag
    body = found.model_dump_json().encode()
    if len(memo) >= _SERIALIZED_MAX:
        memo.clear()
    memo[id(found)] = (found, body)
    metrics.resolve_cache("miss")
    return 200, body, etag


@router.get(
    "/{name:path}/resolve",
    response_model=PromptVersion,
    responses={304: {"description": "Not modified (If-None-Match matched the hash)"}},
    openapi_extra={"parameters": _RESOLVE_PARAMETERS},
)
async def resolve(request: Request) -> Response:
    """The version a label (or number) points at, with config and hash; ETag = hash.

    GET requests are answered by ``ResolveFastPath`` with the same code before routing;
    this endpoint documents the operation and serves what the fast path leaves (HEAD).
    It takes only the request and parses itself, as the fast path does.
    """
    query = request.query_params
    status, body, etag = await resolve_answer(
        request.app.state.resolve,
        name=request.path_params["name"],
        label=query.get("label"),
        version=query.get("version"),
        api_key=presented_key(request),
        if_none_match=request.headers.get("if-none-match"),
        client=client_address(request.scope),
    )
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if status == 304:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.post("/{name:path}/render", response_model=Rendered)
def render(name: str, body: RenderBody, vault: VaultDep, _key: Resolver) -> Rendered:
    """Render a label (default production) or version with variables."""
    label, version = _pick(body.label, body.version)
    found = vault.get(name, label=label, version=version)
    output = vault.render(
        f"{name}@{found.version}",
        body.variables,
        placeholders=body.placeholders,
        strict=body.strict,
    )
    return Rendered(
        name=found.name,
        version=found.version,
        hash=found.hash,
        resolved_label=found.resolved_label,
        output=output,
    )
