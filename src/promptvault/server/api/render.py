"""Resolve and render: what applications call on every request (runtime role and up)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from promptvault.entities import ApiKey, PromptVersion
from promptvault.errors import InvalidInputError
from promptvault.server.api._models import RenderBody, Rendered
from promptvault.server.auth import Permission, require
from promptvault.server.deps import MetricsDep, VaultDep
from promptvault.server.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/v1/prompts", tags=["resolve"], responses=ERROR_RESPONSES)
Resolver = Annotated[ApiKey, Depends(require(Permission.RESOLVE))]
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


@router.get(
    "/{name:path}/resolve",
    response_model=PromptVersion,
    responses={304: {"description": "Not modified (If-None-Match matched the hash)"}},
)
async def resolve(
    *,
    name: str,
    request: Request,
    vault: VaultDep,
    metrics: MetricsDep,
    _key: Resolver,
    label: Annotated[str | None, Query(description="Label; default production.")] = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The version a label (or number) points at, with config and hash; ETag = hash."""
    label, version = _pick(label, version)
    found: PromptVersion = await run_in_threadpool(vault.get, name, label=label, version=version)
    etag = f'"{found.hash}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        metrics.resolve_cache("not_modified")
        return Response(status_code=304, headers=headers)
    # The Vault hands back the same object while its cache holds it, so identity says
    # whether this answer came from the cache; the JSON of a cached object is reused.
    memo: dict[int, tuple[PromptVersion, bytes]] = request.app.state.serialized
    hit = memo.get(id(found))
    if hit is not None and hit[0] is found:
        body = hit[1]
        metrics.resolve_cache("hit")
    else:
        body = found.model_dump_json().encode()
        if len(memo) >= _SERIALIZED_MAX:
            memo.clear()
        memo[id(found)] = (found, body)
        metrics.resolve_cache("miss")
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
