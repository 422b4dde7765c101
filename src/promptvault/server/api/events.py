"""Change events: ``GET /v1/events/changes`` reads the outbox in id order (every role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from promptvault.entities import MAX_INT, ChangePage
from promptvault.registry.events import MAX_PAGE
from promptvault.server.auth import Resolver
from promptvault.server.deps import VaultDep
from promptvault.server.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/v1/events", tags=["events"], responses=ERROR_RESPONSES)


@router.get("/changes", response_model=ChangePage)
def changes(
    *,
    vault: VaultDep,
    _key: Resolver,
    after: Annotated[int, Query(ge=0, le=MAX_INT, description="Events after this id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    prefix: Annotated[
        str | None, Query(max_length=200, description="Only prompts whose name starts so.")
    ] = None,
) -> ChangePage:
    """Change events oldest first; go on with ``after=<cursor>``. Runtime keys may read
    them: applications follow label moves to keep their caches right."""
    return vault.events.page(after=after, limit=limit, prefix=prefix)
