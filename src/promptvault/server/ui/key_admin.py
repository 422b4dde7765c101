"""API keys for admins: list, create (the secret shown once), rotate and revoke.

The same service and checks as ``/v1/keys`` (admin only). A new or rotated key's plaintext
is on the answer to the POST itself, sent with ``Cache-Control: no-store`` and never stored
or redirected to: reloading cannot show it again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from promptvault.entities import ApiKey
from promptvault.errors import InvalidInputError
from promptvault.registry.keys import ROLES
from promptvault.registry.refs import parse_int
from promptvault.server.auth import Permission
from promptvault.server.ui.views import (
    UIRoute,
    UserDep,
    checked_form,
    flash,
    page,
    redirect,
    require_permission,
    ui_state,
)

__all__ = ["router"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)
_MAX_DAYS = 100 * 365


def _keys_page(
    request: Request, *, shown: dict[str, Any] | None = None, status: int = 200
) -> Response:
    keys = ui_state(request).keys.list()
    response = page(
        request, "keys.html", {"keys": keys, "roles": ROLES, "shown": shown}, status=status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/keys")
def keys_page(request: Request, user: UserDep) -> Response:
    """Every live key: name, role, prefix, created, last used, expiry."""
    require_permission(user, Permission.ADMIN)
    return _keys_page(request)


def _expiry(raw: Any) -> datetime | None:
    text = str(raw or "").strip()
    if not text:
        return None
    days = parse_int(text, field="expires_days", minimum=1)
    if days > _MAX_DAYS:
        raise InvalidInputError(
            f"expires_days must be at most {_MAX_DAYS}", details={"field": "expires_days"}
        )
    return datetime.now(UTC) + timedelta(days=days)


@router.post("/keys")
async def create_key(request: Request, user: UserDep) -> Response:
    """Create a key and show its plaintext this once."""
    form = await checked_form(request, user, Permission.ADMIN)
    state = ui_state(request)
    name, role = str(form.get("name") or "").strip(), str(form.get("role") or "")
    expires_at = _expiry(form.get("expires_days"))
    plaintext, record = await run_in_threadpool(
        lambda: state.keys.create(name, role, actor=user.key.name, expires_at=expires_at)
    )
    state.forget_keys()
    return _keys_page(request, shown={"key": record, "plaintext": plaintext, "rotated": False})


def _key_id(form: Any) -> str:
    key_id = str(form.get("key") or "").strip()
    if not key_id:
        raise InvalidInputError("choose a key", details={"field": "key"})
    return key_id


@router.post("/keys/rotate")
async def rotate_key(request: Request, user: UserDep) -> Response:
    """Replace a key (same name and role); the old one works for the grace period."""
    form = await checked_form(request, user, Permission.ADMIN)
    state = ui_state(request)
    key_id = _key_id(form)
    plaintext, record, _old = await run_in_threadpool(
        lambda: state.keys.rotate(key_id, actor=user.key.name)
    )
    state.forget_keys()
    return _keys_page(request, shown={"key": record, "plaintext": plaintext, "rotated": True})


@router.post("/keys/revoke")
async def revoke_key(request: Request, user: UserDep) -> Response:
    """Revoke a key: it and its web sessions stop working at once."""
    form = await checked_form(request, user, Permission.ADMIN)
    state = ui_state(request)
    key_id = _key_id(form)
    revoked: ApiKey = await run_in_threadpool(
        lambda: state.keys.revoke(key_id, actor=user.key.name)
    )
    state.forget_keys()
    return flash(redirect("/keys"), f"Key {revoked.name} ({revoked.prefix}) revoked")
