"""API keys (admin only): list, create and rotate (the secret is in that answer only),
revoke."""

from __future__ import annotations

from fastapi import APIRouter

from promptvault.entities import ApiKey
from promptvault.server.api._models import (
    CreatedKey,
    CreateKeyBody,
    Page,
    RotatedKey,
    RotateKeyBody,
)
from promptvault.server.auth import Admin
from promptvault.server.deps import KeysDep
from promptvault.server.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=ERROR_RESPONSES)


@router.get("", response_model=Page[ApiKey])
def list_keys(keys: KeysDep, _key: Admin, include_revoked: bool = False) -> Page[ApiKey]:
    """Keys, oldest first, with their expiry and last use (secrets are never shown).

    Live keys only (a rotated key in its grace period is listed as ``rotating``);
    ``include_revoked`` adds revoked and expired ones."""
    return Page(items=keys.list(include_revoked=include_revoked))


@router.post("", response_model=CreatedKey, status_code=201)
def create_key(body: CreateKeyBody, keys: KeysDep, key: Admin) -> CreatedKey:
    """Create a key; store the returned ``key`` now, it cannot be shown again."""
    plaintext, record = keys.create(body.name, body.role, actor=key.name, expires_at=body.expiry())
    return CreatedKey(key=plaintext, api_key=record)


@router.post("/{key_id}/rotate", response_model=RotatedKey, status_code=201)
def rotate_key(
    key_id: str, keys: KeysDep, key: Admin, body: RotateKeyBody | None = None
) -> RotatedKey:
    """Issue a new key with the same name and role; the old one works for the grace period."""
    body = body or RotateKeyBody()
    plaintext, record, old = keys.rotate(
        key_id, actor=key.name, grace=body.grace, expires_at=body.expiry()
    )
    return RotatedKey(key=plaintext, api_key=record, replaced=old)


@router.delete("/{key_id}", response_model=ApiKey)
def revoke_key(key_id: str, keys: KeysDep, key: Admin) -> ApiKey:
    """Revoke a key by id (or name); it stops working at once on this server."""
    return keys.revoke(key_id, actor=key.name)
