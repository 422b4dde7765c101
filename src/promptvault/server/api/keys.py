"""API keys (admin only): list, create (the secret is in this answer only), revoke."""

from __future__ import annotations

from fastapi import APIRouter

from promptvault.entities import ApiKey
from promptvault.server.api._models import CreatedKey, CreateKeyBody, Page
from promptvault.server.auth import Admin
from promptvault.server.deps import KeysDep
from promptvault.server.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=ERROR_RESPONSES)


@router.get("", response_model=Page[ApiKey])
def list_keys(keys: KeysDep, _key: Admin, include_revoked: bool = False) -> Page[ApiKey]:
    """Keys, oldest first (secrets are never shown)."""
    return Page(items=keys.list(include_revoked=include_revoked))


@router.post("", response_model=CreatedKey, status_code=201)
def create_key(body: CreateKeyBody, keys: KeysDep, key: Admin) -> CreatedKey:
    """Create a key; store the returned ``key`` now, it cannot be shown again."""
    plaintext, record = keys.create(body.name, body.role, actor=key.name)
    return CreatedKey(key=plaintext, api_key=record)


@router.delete("/{key_id}", response_model=ApiKey)
def revoke_key(key_id: str, keys: KeysDep, key: Admin) -> ApiKey:
    """Revoke a key by id (or name); it stops working at once on this server."""
    return keys.revoke(key_id, actor=key.name)
