"""API key rows: the queries behind :class:`promptvault.registry.keys.KeyService`.

The service owns the rules (key format, digests, the authentication cache); this module owns
the SQL, so that every query the package makes lives under ``storage/``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from promptvault.storage.tables import ApiKeyRow

__all__ = [
    "active_key",
    "count_active",
    "has_active_name",
    "insert_key",
    "key_by_id",
    "key_rows",
    "revoke_row",
]

_ACTIVE = ApiKeyRow.revoked_at.is_(None)


def has_active_name(session: Session, name: str) -> bool:
    """Whether an active (not revoked) key already has ``name``."""
    query = select(ApiKeyRow.key_id).where(ApiKeyRow.name == name, _ACTIVE)
    return session.execute(query).first() is not None


def insert_key(
    session: Session,
    *,
    key_id: str,
    name: str,
    role: str,
    salt: str,
    secret_hash: str,
    at: datetime,
    actor: str,
) -> ApiKeyRow:
    """Insert a key row (flushed, so its id is known)."""
    row = ApiKeyRow(
        key_id=key_id,
        name=name,
        role=role,
        salt=salt,
        secret_hash=secret_hash,
        created_at=at,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    return row


def key_rows(session: Session, *, include_revoked: bool = False) -> list[ApiKeyRow]:
    """Keys in creation order, active only unless ``include_revoked``."""
    query = select(ApiKeyRow).order_by(ApiKeyRow.id)
    if not include_revoked:
        query = query.where(_ACTIVE)
    return list(session.execute(query).scalars())


def count_active(session: Session) -> int:
    """How many keys are not revoked."""
    query = select(func.count()).select_from(ApiKeyRow).where(_ACTIVE)
    return int(session.execute(query).scalar_one())


def active_key(session: Session, *, key_id: str, name: str) -> ApiKeyRow | None:
    """The active key whose id is ``key_id`` or whose name is ``name``."""
    query = select(ApiKeyRow).where(
        _ACTIVE, (ApiKeyRow.key_id == key_id) | (ApiKeyRow.name == name)
    )
    return session.execute(query).scalar_one_or_none()


def key_by_id(session: Session, key_id: str) -> ApiKeyRow | None:
    """The key with this lookup id, revoked or not."""
    query = select(ApiKeyRow).where(ApiKeyRow.key_id == key_id)
    return session.execute(query).scalar_one_or_none()


def revoke_row(session: Session, row: ApiKeyRow, *, at: datetime, actor: str) -> None:
    """Mark ``row`` revoked by ``actor`` at ``at`` (flushed)."""
    row.revoked_at = at
    row.revoked_by = actor
    session.flush()
