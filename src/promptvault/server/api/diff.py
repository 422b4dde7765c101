"""Diff two versions (or labels) of a prompt."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from promptvault.entities import PromptDiff
from promptvault.server.auth import Reader
from promptvault.server.deps import VaultDep
from promptvault.server.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/v1/prompts", tags=["diff"], responses=ERROR_RESPONSES)


def _ref(name: str, side: str) -> str:
    # "3" or "staging" are of this prompt; "other@2" names another prompt.
    return side if "@" in side else f"{name}@{side}"


@router.get("/{name:path}/diff", response_model=PromptDiff)
def diff(
    name: str,
    vault: VaultDep,
    _key: Reader,
    from_: Annotated[str, Query(alias="from", min_length=1, description="Version or label")],
    to: Annotated[str, Query(min_length=1, description="Version, label or other@ref")],
) -> PromptDiff:
    """What changed: unified diff per message, config and schema changes."""
    return vault.diff(_ref(name, from_), _ref(name, to))
