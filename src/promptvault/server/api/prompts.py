"""Prompts: list (filtered, paged), create, get, archive."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from promptvault.entities import PromptSummary, PushResult, check_text
from promptvault.errors import ConflictError, PromptNotFound
from promptvault.server.api._models import CreatePromptBody, Page, PushBody
from promptvault.server.api.versions import push_version
from promptvault.server.auth import Reader, Writer
from promptvault.server.deps import SettingsDep, VaultDep
from promptvault.server.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/v1/prompts", tags=["prompts"], responses=ERROR_RESPONSES)


@router.get("", response_model=Page[PromptSummary])
def list_prompts(
    *,
    vault: VaultDep,
    _key: Reader,
    tag: str | None = None,
    search: str | None = None,
    folder: str | None = None,
    include_archived: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(description="Names after this one.")] = None,
) -> Page[PromptSummary]:
    """Prompts sorted by name, with latest version and labels."""
    if cursor is not None:
        check_text(cursor, "cursor", limit=1000)
    rows = vault.list_prompts(
        tag=tag,
        search=search,
        folder=folder,
        include_archived=include_archived,
        limit=limit + 1,
        after=cursor,
    )
    more = len(rows) > limit
    items = rows[:limit]
    return Page(items=items, next_cursor=items[-1].name if more and items else None)


@router.post("", response_model=PushResult, status_code=201)
def create_prompt(
    body: CreatePromptBody, vault: VaultDep, settings: SettingsDep, key: Writer
) -> PushResult:
    """Create a prompt with its first version (409 when the name is taken)."""
    try:
        vault.get_prompt(body.name)
    except PromptNotFound:
        pass
    else:
        raise ConflictError(
            f"prompt {body.name!r} already exists: push a version instead",
            details={"field": "name", "value": body.name},
        )
    fields = body.model_dump(exclude={"name"})
    return push_version(vault, settings, key, body.name, PushBody(**fields))


@router.get("/{name:path}", response_model=PromptSummary)
def get_prompt(name: str, vault: VaultDep, _key: Reader) -> PromptSummary:
    """One prompt's summary."""
    return vault.get_prompt(name)


@router.delete("/{name:path}", response_model=PromptSummary)
def archive_prompt(name: str, vault: VaultDep, key: Writer) -> PromptSummary:
    """Archive a prompt: hidden from listings, refuses pushes, still resolves."""
    return vault.archive(name, actor=key.name)
