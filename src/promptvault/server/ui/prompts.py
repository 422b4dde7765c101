"""The prompt list, a prompt's page, and label moves (promote, roll back) with confirmation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from promptvault.entities import LabelEvent, PromptVersion
from promptvault.errors import ConflictError, InvalidInputError, PromptVaultError
from promptvault.experiments.models import Experiment
from promptvault.registry.refs import check_label, parse_int
from promptvault.server.auth import Permission, check_direct_move, check_labels
from promptvault.server.deps import SettingsDep, VaultDep
from promptvault.server.ui.compare import diff_view
from promptvault.server.ui.views import (
    UIRoute,
    User,
    UserDep,
    check_csrf,
    checked_form,
    flash,
    page,
    prompt_url,
    redirect,
    require_permission,
    ui_state,
)
from promptvault.vault import Vault

__all__ = ["PAGE_SIZE", "rollback_target", "router"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)
PAGE_SIZE = 50
HISTORY_SIZE = 50
_SUGGESTED_LABELS = ("production", "staging")


def rollback_target(events: list[LabelEvent]) -> int | None:
    """Where a rollback of one label would move it (the registry's rule), from its history.

    ``events`` are that label's moves, newest first (as ``vault.label_history`` gives them).
    """
    stack: list[int | None] = []
    for event in reversed(events):
        if event.action == "rollback":
            if stack:
                stack.pop()
        else:
            stack.append(event.from_version)
    return stack[-1] if stack else None


def _folders(name: str) -> list[tuple[str, str]]:
    """``a/b/c`` -> [("a", "a"), ("b", "a/b")]: each folder part and its path."""
    parts = name.split("/")[:-1]
    return [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]


@router.get("/")
def prompt_list(
    *,
    request: Request,
    vault: VaultDep,
    user: UserDep,
    q: str = "",
    tag: str = "",
    folder: str = "",
    after: str = "",
) -> Response:
    """Prompts by name: search, tag and folder filters, ``PAGE_SIZE`` per page."""
    rows = vault.list_prompts(
        search=q.strip() or None,
        tag=tag.strip() or None,
        folder=folder.strip().strip("/") or None,
        limit=PAGE_SIZE + 1,
        after=after or None,
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    filters = {"q": q.strip(), "tag": tag.strip(), "folder": folder.strip().strip("/")}
    return page(
        request,
        "list.html",
        {
            "rows": rows,
            "folders": _folders,
            "filters": filters,
            "filtered": any(filters.values()),
            "after": after,
            "next_after": rows[-1].name if more and rows else None,
        },
    )


def _label_rows(labels: dict[str, int], history: list[LabelEvent]) -> list[dict[str, Any]]:
    out = []
    for label, version in sorted(labels.items(), key=lambda kv: (kv[0] != "production", kv[0])):
        events = [e for e in history if e.label == label]
        out.append(
            {
                "label": label,
                "version": version,
                "rollback_to": rollback_target(events),
                "moved": events[0] if events else None,
            }
        )
    return out


def _variables_of(vault: Vault, version: PromptVersion) -> list[str]:
    try:
        compiled = vault.registry.resolver.compiled(
            f"{version.name}@{version.version}", include_archived=True
        )
        # Variables are worked out lazily, and reach into partials: a missing one raises here.
        return sorted(compiled.template.variables)
    except PromptVaultError:
        return []


@router.get("/prompts/{name:path}")
def prompt_page(
    *,
    request: Request,
    name: str,
    vault: VaultDep,
    settings: SettingsDep,
    user: UserDep,
    v: int | None = None,
    before: int | None = None,
) -> Response:
    """A prompt: its production (or chosen) version, config, labels and history."""
    # Read first: the page's live banner follows changes after this id, so a change made
    # while the page is being put together is announced, not lost.
    seen_event = vault.events.last_id()
    summary = vault.get_prompt(name)
    if v is not None:
        shown = vault.get(name, version=v, include_archived=True)
    elif "production" in summary.labels:
        shown = vault.get(name, label="production", include_archived=True)
    else:
        shown = vault.get(name, label="latest", include_archived=True)
    # History and label moves change only with a write, which advances updated_at.
    state = ui_state(request)
    stamp = (name, summary.created_at, summary.updated_at)
    versions = state.memo(
        ("versions", *stamp, before),
        lambda: vault.versions(name, limit=HISTORY_SIZE + 1, before=before),
    )
    history = state.memo(("label_history", *stamp), lambda: vault.label_history(name))
    more = len(versions) > HISTORY_SIZE
    versions = versions[:HISTORY_SIZE]
    label_choices = sorted(set(summary.labels) | set(_SUGGESTED_LABELS))
    if not user.can_protected:  # labels needing approval stay: promoting asks for it
        label_choices = [
            lab
            for lab in label_choices
            if lab not in settings.protected_labels or lab in settings.approval_labels
        ]
    return page(
        request,
        "prompt.html",
        {
            "prompt": summary,
            "shown": shown,
            "folders": _folders(name),
            "labels": _label_rows(summary.labels, history),
            "protected": set(settings.protected_labels),
            "versions": versions,
            "older": versions[-1].version if more and versions else None,
            "label_choices": label_choices,
            "variables": _variables_of(vault, shown),
            "experiments": vault.experiments.list(prompt=name)[:5],
            "seen_event": seen_event,
            "comments": vault.requests.comments(name, version=shown.version),
            "open_requests": vault.requests.list(status="open", prompt=name, limit=5),
        },
    )


def _int_field(value: object, field: str) -> int:
    return parse_int(str(value), field=field, minimum=1)


def _label_field(value: object) -> str:
    label = str(value or "").strip()
    if not label:
        raise InvalidInputError("choose a label", details={"field": "label"})
    return label


def _running_on(vault: Vault, name: str, label: str) -> Experiment | None:
    """The experiment running on the label: the move is refused while it runs."""
    running = vault.experiments.running(name, label)
    return running[0] if running else None


def _may_move(
    user: User, label: str, protected: list[str], approval: list[str] | None = None
) -> None:
    require_permission(user, Permission.WRITE)
    check_labels(user.key, [label], protected)
    check_direct_move([label], approval or ())


NEW_LABEL = "+new"  # the promote dropdown's "New label…" (no label can start with "+")


@router.get("/promote/{name:path}")
def promote_confirm(
    *,
    request: Request,
    name: str,
    vault: VaultDep,
    settings: SettingsDep,
    user: UserDep,
    version: str = "",
    label: str = "",
    new_label: str = "",
) -> Response:
    """Confirm pointing a label at a version: shows what the label serves now and after.

    "New label…" in the dropdown first asks for the new label's name.
    """
    if label == NEW_LABEL and not new_label.strip():
        require_permission(user, Permission.WRITE)
        target = vault.get(name, version=_int_field(version, "version"), include_archived=True)
        return page(
            request,
            "new_label.html",
            {"prompt": vault.get_prompt(name), "target": target, "taken": vault.labels(name)},
        )
    chosen = _label_field(new_label.strip() or label)
    check_label(chosen)
    needs_approval = chosen in settings.approval_labels
    if needs_approval:  # the move becomes a request: asking needs write, approving more
        require_permission(user, Permission.WRITE)
    else:
        _may_move(user, chosen, settings.protected_labels)
    target = vault.get(name, version=_int_field(version, "version"), include_archived=True)
    labels = vault.labels(name)
    current = None
    if chosen in labels:
        current = vault.get(name, version=labels[chosen], include_archived=True)
    d = diff_view(vault, current, target) if current is not None else None
    return page(
        request,
        "confirm.html",
        {
            "action": "promote",
            "prompt": vault.get_prompt(name),
            "label": chosen,
            "current": current,
            "target": target,
            "d": d,
            "experiment": _running_on(vault, name, chosen),
            "gate": vault.evals.check_gate(name, chosen, target.version),
            "needs_approval": needs_approval,
        },
    )


@router.post("/promote/{name:path}")
async def promote(
    request: Request, name: str, vault: VaultDep, settings: SettingsDep, user: UserDep
) -> Response:
    """Point a label at a version (the same checks as ``PUT /v1/.../labels/{label}``)."""
    form = await check_csrf(request, user)
    label = _label_field(form.get("label"))
    version = _int_field(form.get("version"), "version")
    if label in settings.approval_labels:
        require_permission(user, Permission.WRITE)
        comment = str(form.get("comment") or "")
        made = await run_in_threadpool(
            lambda: vault.requests.request(
                name, label, version, actor=user.key.name, comment=comment
            )
        )
        text = f"Change request #{made.id} made: an approver moves {label} to v{version}"
        return flash(redirect(f"/requests/{made.id}"), text)
    _may_move(user, label, settings.protected_labels)
    override = form.get("override_gate") == "1"
    if override:
        require_permission(user, Permission.ADMIN)
    event = await run_in_threadpool(
        lambda: vault.set_label(name, label, version, actor=user.key.name, override_gate=override)
    )
    text = (
        f"{event.label} now points at version {event.to_version}"
        if event.changed
        else f"{event.label} already points at version {event.to_version}: nothing changed"
    )
    return flash(redirect(prompt_url(name)), text)


@router.post("/archive/{name:path}")
async def archive(request: Request, name: str, vault: VaultDep, user: UserDep) -> Response:
    """Archive a prompt (as ``DELETE /v1/prompts/{name}``), or undo it with ``undo=1``."""
    form = await checked_form(request, user, Permission.WRITE)
    if form.get("undo") == "1":
        await run_in_threadpool(vault.unarchive, name, actor=user.key.name)
        text = f"{name} is active again"
    else:
        await run_in_threadpool(vault.archive, name, actor=user.key.name)
        text = f"{name} archived: hidden from the list, it still resolves; pushes are refused"
    return flash(redirect(prompt_url(name)), text)


@router.get("/rollback/{name:path}")
def rollback_confirm(
    *,
    request: Request,
    name: str,
    vault: VaultDep,
    settings: SettingsDep,
    user: UserDep,
    label: str = "production",
) -> Response:
    """Confirm a rollback: where the label points now, where it goes back to, the diff."""
    chosen = _label_field(label)
    _may_move(user, chosen, settings.protected_labels, settings.approval_labels)
    labels = vault.labels(name)
    if chosen not in labels:
        raise ConflictError(
            f"{name!r} has no label {chosen!r}", details={"field": "label", "label": chosen}
        )
    back_to = rollback_target(vault.label_history(name, chosen))
    if back_to is None:
        raise ConflictError(
            f"label {chosen!r} of {name!r} has no earlier version to roll back to",
            details={"name": name, "label": chosen},
        )
    current = vault.get(name, version=labels[chosen], include_archived=True)
    target = vault.get(name, version=back_to, include_archived=True)
    return page(
        request,
        "confirm.html",
        {
            "action": "rollback",
            "prompt": vault.get_prompt(name),
            "label": chosen,
            "current": current,
            "target": target,
            "d": diff_view(vault, current, target),
            "experiment": _running_on(vault, name, chosen),
            "gate": None,  # rollbacks undo a bad promotion at once: never gated
        },
    )


@router.post("/rollback/{name:path}")
async def rollback(
    request: Request, name: str, vault: VaultDep, settings: SettingsDep, user: UserDep
) -> Response:
    """Move a label back to where it pointed before its last move."""
    form = await check_csrf(request, user)
    label = _label_field(form.get("label"))
    _may_move(user, label, settings.protected_labels, settings.approval_labels)
    event = await run_in_threadpool(vault.rollback, name, label=label, actor=user.key.name)
    text = f"{event.label} rolled back from version {event.from_version} to {event.to_version}"
    return flash(redirect(prompt_url(name)), text)
