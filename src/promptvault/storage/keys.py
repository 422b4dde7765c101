"""API keys as a unit of work sees them (``work.keys``), and the queries behind them.

:class:`promptvault.registry.keys.KeyService` owns the rules (key format, digests, the
authentication cache) and works through :class:`KeyRepository`, which returns
:class:`~promptvault.entities.ApiKey` entities (and, to check a secret, its salt and digest);
this module owns the SQL, and no ORM row leaves it.

A key is *live* while it is neither revoked nor past ``expires_at``; a rotated key stays
live, with ``replaced_by`` set, until its grace period (its new ``expires_at``) ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from promptvault.entities import API_KEY_PREFIX, ApiKey
from promptvault.storage.tables import ApiKeyRow

__all__ = [
    "KeyCredentials",
    "KeyRepository",
    "count_active",
    "current_key",
    "has_active_name",
    "insert_key",
    "key_by_id",
    "key_rows",
    "live_keys",
    "retire_key",
    "revoke_key",
    "to_api_key",
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


def revoke_key(session: Session, key_id: str, *, at: datetime, actor: str) -> None:
    """Mark the key ``key_id`` revoked by ``actor`` at ``at``."""
    session.execute(
        update(ApiKeyRow).where(ApiKeyRow.key_id == key_id).values(revoked_at=at, revoked_by=actor)
    )


def retire_key(session: Session, key_id: str, **values: Any) -> None:
    """Set ``replaced_by`` (and a shortened ``expires_at``) of the key ``key_id``."""
    session.execute(update(ApiKeyRow).where(ApiKeyRow.key_id == key_id).values(**values))


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


def to_api_key(row: ApiKeyRow) -> ApiKey:
    """The entity of one key row."""
    return ApiKey(
        id=row.key_id,
        name=row.name,
        role=row.role,
        prefix=f"{API_KEY_PREFIX}{row.key_id}",
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        replaced_by=row.replaced_by,
    )


class KeyCredentials(NamedTuple):
    """A key and what checks its secret: the per-key salt and the secret's HMAC digest."""

    key: ApiKey
    salt: str
    secret_hash: str


class KeyRepository:
    """The API key table within one transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def name_taken(self, name: str, *, now: datetime) -> bool:
        """Whether a live key that was not rotated away already has ``name``."""
        return has_active_name(self._session, name, now=now)

    def insert(
        self,
        *,
        key_id: str,
        name: str,
        role: str,
        salt: str,
        secret_hash: str,
        at: datetime,
        actor: str,
        expires_at: datetime | None = None,
    ) -> ApiKey:
        """Store a new key; returns its record."""
        row = insert_key(
            self._session,
            key_id=key_id,
            name=name,
            role=role,
            salt=salt,
            secret_hash=secret_hash,
            at=at,
            actor=actor,
            expires_at=expires_at,
        )
        return to_api_key(row)

    def all(self, *, include_revoked: bool = False, now: datetime) -> list[ApiKey]:
        """Keys in creation order: live ones only, unless ``include_revoked``."""
        rows = key_rows(self._session, include_revoked=include_revoked, now=now)
        return [to_api_key(row) for row in rows]

    def count_live(self, *, now: datetime) -> int:
        """How many keys are live."""
        return count_active(self._session, now=now)

    def live(self, *, key_id: str, name: str, now: datetime) -> list[ApiKey]:
        """The live key whose id is ``key_id``, else every live key named ``name``."""
        return [
            to_api_key(row) for row in live_keys(self._session, key_id=key_id, name=name, now=now)
        ]

    def current(self, *, key_id: str, name: str, now: datetime) -> ApiKey | None:
        """The live key with this id, else the live, not yet replaced key with this name."""
        row = current_key(self._session, key_id=key_id, name=name, now=now)
        return None if row is None else to_api_key(row)

    def credentials(self, key_id: str) -> KeyCredentials | None:
        """The key with this lookup id (revoked or not) with its salt and digest, or None."""
        row = key_by_id(self._session, key_id)
        if row is None:
            return None
        return KeyCredentials(to_api_key(row), row.salt, row.secret_hash)

    def revoke(self, key: ApiKey, *, at: datetime, actor: str) -> ApiKey:
        """Revoke ``key``; returns its record as it now is."""
        revoke_key(self._session, key.id, at=at, actor=actor)
        return key.model_copy(update={"revoked_at": at, "revoked_by": actor})

    def retire(self, key: ApiKey, *, replaced_by: str, until: datetime) -> ApiKey:
        """Mark ``key`` replaced by ``replaced_by``; it works until ``until`` (never longer
        than it would have anyway). Returns its record as it now is."""
        values: dict[str, Any] = {"replaced_by": replaced_by}
        if key.expires_at is None or key.expires_at > until:
            values["expires_at"] = until
        retire_key(self._session, key.id, **values)
        return key.model_copy(update=values)

    def touch_last_used(self, used: Mapping[str, datetime], *, interval: float) -> int:
        """Record when keys were last used (see :func:`touch_last_used`)."""
        return touch_last_used(self._session, used, interval=interval)
