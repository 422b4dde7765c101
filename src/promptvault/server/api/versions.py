"""Versions: list (newest first, paged), push, get by number."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from promptvault.entities import MAX_INT, ApiKey, PromptVersion, PushResult
from promptvault.server.api._models import Page, PushBody
from promptvault.server.auth import Reader, Writer, check_direct_move, check_labels
from promptvault.server.deps import SettingsDep, VaultDep
from promptvault.server.errors import ERROR_RESPONSES

__all__ = ["push_version", "router"]

router = APIRouter(prefix="/v1/prompts", tags=["versions"], responses=ERROR_RESPONSES)


@router.get("/{name:path}/versions/{version}", response_model=PromptVersion)
def get_version(name: str, version: int, vault: VaultDep, _key: Reader) -> PromptVersion:
    """One version by number."""
    return vault.get(name, version=version)


@router.get("/{name:path}/versions", response_model=Page[PromptVersion])
def list_versions(
    name: str,
    vault: VaultDep,
    _key: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[
        int | None, Query(ge=1, le=MAX_INT, description="Versions before this one.")
    ] = None,
) -> Page[PromptVersion]:
    """Versions newest first, with the labels pointing at each."""
    rows = vault.versions(name, limit=limit + 1, before=cursor)
    more = len(rows) > limit
    items = rows[:limit]
    return Page(items=items, next_cursor=str(items[-1].version) if more and items else None)


def push_version(
    vault: VaultDep, settings: SettingsDep, key: ApiKey, name: str, body: PushBody
) -> PushResult:
    """Push through the Vault with the key's name as author, refusing protected labels."""
    check_labels(key, body.labels or (), settings.protected_labels)
    check_direct_move(body.labels or (), settings.approval_labels)
    return vault.push(
        name,
        template=body.template,
        syntax=body.syntax,
        type=body.type,
        config=body.config,
        variables_schema=body.variables_schema,
        message=body.message,
        author=key.name,
        tags=body.tags,
        labels=body.labels,
        description=body.description,
        allow_missing_partials=body.allow_missing_partials,
    )


@router.post(
    "/{name:path}/versions",
    response_model=PushResult,
    status_code=201,
    responses={200: {"model": PushResult, "description": "Identical content: nothing new"}},
)
def push(
    *,
    name: str,
    body: PushBody,
    response: Response,
    vault: VaultDep,
    settings: SettingsDep,
    key: Writer,
) -> PushResult:
    """Push a version: 201 when created, 200 when identical to the newest (no-op)."""
    result = push_version(vault, settings, key, name, body)
    if not result.created:
        response.status_code = 200
    return result
