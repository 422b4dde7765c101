"""API keys as a unit of work sees them (``work.keys``).

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

__all__ = ["KeyCredentials", "KeyRepository"]


def _live(now: datetime) -> ColumnElement[bool]:
    return ApiKeyRow.revoked_at.is_(None) & or_(
        ApiKeyRow.expires_at.is_(None), ApiKeyRow.expires_at > now
    )


def _entity(row: ApiKeyRow) -> ApiKey:
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
        query = select(ApiKeyRow.key_id).where(
            ApiKeyRow.name == name, _live(now), ApiKeyRow.replaced_by.is_(None)
        )
        return self._session.execute(query).first() is not None

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
        """Store a new key (flushed); returns its record."""
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
        self._session.add(row)
        self._session.flush()
        return _entity(row)

    def all(self, *, include_revoked: bool = False, now: datetime) -> list[ApiKey]:
        """Keys in creation order: live ones only, unless ``include_revoked`` (then expired
        too)."""
        query = select(ApiKeyRow).order_by(ApiKeyRow.id)
        if not include_revoked:
            query = query.where(_live(now))
        return [_entity(row) for row in self._session.execute(query).scalars()]

    def count_live(self, *, now: datetime) -> int:
        """How many keys are live."""
        query = select(func.count()).select_from(ApiKeyRow).where(_live(now))
        return int(self._session.execute(query).scalar_one())

    def live(self, *, key_id: str, name: str, now: datetime) -> list[ApiKey]:
        """The live key whose id is ``key_id``, else every live key named ``name``."""
        by_id = select(ApiKeyRow).where(_live(now), ApiKeyRow.key_id == key_id)
        rows = list(self._session.execute(by_id).scalars())
        if not rows:
            by_name = (
                select(ApiKeyRow).where(_live(now), ApiKeyRow.name == name).order_by(ApiKeyRow.id)
            )
            rows = list(self._session.execute(by_name).scalars())
        return [_entity(row) for row in rows]

    def current(self, *, key_id: str, name: str, now: datetime) -> ApiKey | None:
        """The live key with this id, else the live, not yet replaced key with this name."""
        keys = self.live(key_id=key_id, name=name, now=now)
        if len(keys) == 1 and keys[0].id == key_id:
            return keys[0]
        current = [key for key in keys if key.replaced_by is None]
        return current[-1] if current else None

    def credentials(self, key_id: str) -> KeyCredentials | None:
        """The key with this lookup id (revoked or not) with its salt and digest, or None."""
        query = select(ApiKeyRow).where(ApiKeyRow.key_id == key_id)
        row = self._session.execute(query).scalar_one_or_none()
        if row is None:
            return None
        return KeyCredentials(_entity(row), row.salt, row.secret_hash)

    def revoke(self, key: ApiKey, *, at: datetime, actor: str) -> ApiKey:
        """Revoke ``key``; returns its record as it now is."""
        values = {"revoked_at": at, "revoked_by": actor}
        self._update(key.id, values)
        return key.model_copy(update=values)

    def retire(self, key: ApiKey, *, replaced_by: str, until: datetime) -> ApiKey:
        """Mark ``key`` replaced by ``replaced_by``; it works until ``until`` (never longer
        than it would have anyway). Returns its record as it now is."""
        values: dict[str, Any] = {"replaced_by": replaced_by}
        if key.expires_at is None or key.expires_at > until:
            values["expires_at"] = until
        self._update(key.id, values)
        return key.model_copy(update=values)

    def touch_last_used(self, used: Mapping[str, datetime], *, interval: float) -> int:
        """Record when keys were last used, skipping rows written within ``interval``
        seconds (other servers record the same keys). Returns how many rows changed."""
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
            result: Any = self._session.execute(statement)  # a CursorResult: it has rowcount
            changed += int(result.rowcount)
        return changed

    def _update(self, key_id: str, values: Mapping[str, Any]) -> None:
        self._session.execute(update(ApiKeyRow).where(ApiKeyRow.key_id == key_id).values(values))
