"""API key rows: the queries behind :class:`promptvault.registry.keys.KeyService`.

The service owns the rules (key format, digests, the authentication cache); this module owns
the SQL, so that every query the package makes lives under ``storage/``.

A key is *live* while it is neither revoked nor past ``expires_at``; a rotated key stays
live, with ``replaced_by`` set, until its grace period (its new ``expires_at``) ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from promptvault.storage.tables import ApiKeyRow

__all__ = [
    "count_active",
    "current_key",
    "has_active_name",
    "insert_key",
    "key_by_id",
    "key_rows",
    "live_keys",
    "retire_row",
    "revoke_row",
    "touch_last_used",
]


def _live(now: datetime) -> ColumnElement[bool]:
    return ApiKeyRow.revoked_at.is_(None) & or_(
        ApiKeyRow.expires_at.is_(None), ApiKeyRow.expires_at > now
    )


def has_active_name(session: Session, name: str, *, now: datetime) -> bool:
    """Whether a live key that was not rotated away already has ``name``."""
    query = select(ApiKeyRow.key_id).where(
        ApiKeyRow.name == name, _live(now), ApiKeyRow.replaced_by.is_(None)
    )
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
    expires_at: datetime | None = None,
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
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row


def key_rows(session: Session, *, include_revoked: bool = False, now: datetime) -> list[ApiKeyRow]:
    """Keys in creation order: live ones only, unless ``include_revoked`` (then expired too)."""
    query = select(ApiKeyRow).order_by(ApiKeyRow.id)
    if not include_revoked:
        query = query.where(_live(now))
    return list(session.execute(query).scalars())


def count_active(session: Session, *, now: datetime) -> int:
    """How many keys are live."""
    query = select(func.count()).select_from(ApiKeyRow).where(_live(now))
    return int(session.execute(query).scalar_one())


def live_keys(session: Session, *, key_id: str, name: str, now: datetime) -> list[ApiKeyRow]:
    """The live key whose id is ``key_id``, else every live key named ``name``."""
    by_id = select(ApiKeyRow).where(_live(now), ApiKeyRow.key_id == key_id)
    rows = list(session.execute(by_id).scalars())
    if rows:
        return rows
    by_name = select(ApiKeyRow).where(_live(now), ApiKeyRow.name == name).order_by(ApiKeyRow.id)
    return list(session.execute(by_name).scalars())


def current_key(session: Session, *, key_id: str, name: str, now: datetime) -> ApiKeyRow | None:
    """The live key with this id, else the live, not yet replaced key with this name."""
    rows = live_keys(session, key_id=key_id, name=name, now=now)
    if len(rows) == 1 and rows[0].key_id == key_id:
        return rows[0]
    current = [row for row in rows if row.replaced_by is None]
    return current[-1] if current else None


def key_by_id(session: Session, key_id: str) -> ApiKeyRow | None:
    """The key with this lookup id, revoked or not."""
    query = select(ApiKeyRow).where(ApiKeyRow.key_id == key_id)
    return session.execute(query).scalar_one_or_none()


def revoke_row(session: Session, row: ApiKeyRow, *, at: datetime, actor: str) -> None:
    """Mark ``row`` revoked by ``actor`` at ``at`` (flushed)."""
    row.revoked_at = at
    row.revoked_by = actor
    session.flush()


def retire_row(session: Session, row: ApiKeyRow, *, replaced_by: str, until: datetime) -> None:
    """Mark ``row`` replaced by ``replaced_by``; it works until ``until`` (never longer
    than it would have anyway)."""
    row.replaced_by = replaced_by
    if row.expires_at is None or row.expires_at > until:
        row.expires_at = until
    session.flush()


def touch_last_used(session: Session, used: Mapping[str, datetime], *, interval: float) -> int:
    """Record when keys were last used, skipping rows written within ``interval`` seconds
    (other servers record the same keys). Returns how many rows changed."""
    changed = 0
    for key_id, at in used.items():
        cutoff = at - timedelta(seconds=interval)
        statement = (
            update(ApiKeyRow)
            .where(
                ApiKeyRow.key_id == key_id,
                or_(ApiKeyRow.last_used_at.is_(None), ApiKeyRow.last_used_at < cutoff),
            )
            .values(last_used_at=at)
        )
        result: Any = session.execute(statement)  # a CursorResult: it has rowcount
        changed += int(result.rowcount)
    return changed
