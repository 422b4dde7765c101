"""The webhooks page (admins): subscriptions, add one (its secret shown once), disable and
enable, and each subscription's delivery log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from promptvault.errors import PromptVaultError
from promptvault.server.auth import Permission
from promptvault.server.deps import VaultDep
from promptvault.server.ui.views import (
    UIRoute,
    UserDep,
    checked_form,
    flash,
    page,
    redirect,
    require_permission,
)
from promptvault.vault import Vault

__all__ = ["router"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)


def _list_page(
    request: Request, vault: Vault, *, created: Any = None, error: str = "", form: Any = None
) -> Response:
    hooks = vault.webhooks.list()
    context = {"hooks": hooks, "created": created, "error": error, "form": form or {}}
    return page(request, "webhooks.html", context, status=422 if error else 200)


@router.get("/webhooks")
async def webhooks(request: Request, vault: VaultDep, user: UserDep) -> Response:
    """Subscriptions and the form to add one."""
    require_permission(user, Permission.ADMIN)
    return await run_in_threadpool(_list_page, request, vault)


@router.post("/webhooks")
async def add(request: Request, vault: VaultDep, user: UserDep) -> Response:
    """Subscribe a URL; the answer shows its secret, this once."""
    form = await checked_form(request, user, Permission.ADMIN)
    values = {k: str(form.get(k) or "").strip() for k in ("url", "events", "prefix", "format")}
    events = [e.strip() for e in values["events"].replace(",", " ").split() if e.strip()]

    def create() -> Response:
        try:
            secret, hook = vault.webhooks.create(
                values["url"],
                event_types=events or None,
                prompt_prefix=values["prefix"] or None,
                format=values["format"] or "standard",
                actor=user.key.name,
            )
        except PromptVaultError as exc:  # show the form again with what was typed
            return _list_page(request, vault, error=exc.message, form=values)
        return _list_page(request, vault, created={"secret": secret, "hook": hook})

    return await run_in_threadpool(create)


@router.post("/webhooks/{webhook_id}/{verb}")
async def toggle(
    request: Request, webhook_id: str, verb: str, vault: VaultDep, user: UserDep
) -> Response:
    """Disable or enable one subscription."""
    await checked_form(request, user, Permission.ADMIN)
    if verb not in ("enable", "disable"):
        return redirect("/webhooks")
    hook = await run_in_threadpool(
        lambda: vault.webhooks.set_enabled(webhook_id, verb == "enable", actor=user.key.name)
    )
    return flash(redirect("/webhooks"), f"Webhook {hook.id} {verb}d")


@router.get("/webhooks/{webhook_id}")
async def deliveries(request: Request, webhook_id: str, vault: VaultDep, user: UserDep) -> Response:
    """One subscription and its latest delivery attempts."""
    require_permission(user, Permission.ADMIN)

    def render() -> Response:
        hook = vault.webhooks.get(webhook_id)
        rows = vault.webhooks.deliveries(webhook_id, limit=100)
        return page(request, "webhook.html", {"hook": hook, "rows": rows})

    return await run_in_threadpool(render)
