"""Labels: where they point, move, delete, roll back, history."""

from __future__ import annotations

from fastapi import APIRouter

from promptvault.entities import LabelEvent
from promptvault.errors import ForbiddenError
from promptvault.server.api._models import LabelBody, Labels, Page
from promptvault.server.auth import (
    Permission,
    Reader,
    Writer,
    check_direct_move,
    check_labels,
    has,
)
from promptvault.server.deps import SettingsDep, VaultDep
from promptvault.server.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/v1/prompts", tags=["labels"], responses=ERROR_RESPONSES)


@router.get("/{name:path}/labels/{label}/history", response_model=Page[LabelEvent])
def label_history(name: str, label: str, vault: VaultDep, _key: Reader) -> Page[LabelEvent]:
    """Every move of one label, newest first."""
    return Page(items=vault.label_history(name, label))


@router.get("/{name:path}/label-history", response_model=Page[LabelEvent])
def all_label_history(name: str, vault: VaultDep, _key: Reader) -> Page[LabelEvent]:
    """Every move of every label of the prompt, deleted labels included, newest first."""
    return Page(items=vault.label_history(name))


@router.post("/{name:path}/labels/{label}/rollback", response_model=LabelEvent)
def rollback(
    name: str, label: str, vault: VaultDep, settings: SettingsDep, key: Writer
) -> LabelEvent:
    """Move the label back to where it pointed before its last move."""
    check_labels(key, [label], settings.protected_labels)
    check_direct_move([label], settings.approval_labels)
    return vault.rollback(name, label=label, actor=key.name)


@router.put("/{name:path}/labels/{label}", response_model=LabelEvent)
def set_label(
    *,
    name: str,
    label: str,
    body: LabelBody,
    vault: VaultDep,
    settings: SettingsDep,
    key: Writer,
) -> LabelEvent:
    """Point a label at a version (protected labels need an admin key). A label with an eval
    gate refuses a version without a passing run (409 ``eval_gate_failed``, the gate's
    reasons in ``details``); ``override_gate`` promotes anyway and needs an admin key."""
    check_labels(key, [label], settings.protected_labels)
    check_direct_move([label], settings.approval_labels)
    if body.override_gate and not has(key, Permission.ADMIN):
        raise ForbiddenError(
            "overriding an eval gate needs an admin key", details={"field": "override_gate"}
        )
    return vault.set_label(
        name, label, body.version, actor=key.name, override_gate=body.override_gate
    )


@router.delete("/{name:path}/labels/{label}", response_model=LabelEvent)
def delete_label(
    name: str, label: str, vault: VaultDep, settings: SettingsDep, key: Writer
) -> LabelEvent:
    """Remove a label (its history is kept)."""
    check_labels(key, [label], settings.protected_labels)
    check_direct_move([label], settings.approval_labels)
    return vault.delete_label(name, label, actor=key.name)


@router.get("/{name:path}/labels", response_model=Labels)
def labels(name: str, vault: VaultDep, _key: Reader) -> Labels:
    """Where each label points."""
    return Labels(labels=vault.labels(name))
