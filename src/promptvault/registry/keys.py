"""API keys: create (shown once), list, revoke, authenticate in one indexed query.

A key reads ``pv_<id>_<secret>``: ``id`` is 12 hex characters stored in clear (the lookup
index, also shown in listings), ``secret`` is 32 random bytes. Only ``HMAC-SHA256(salt,
secret)`` with a per-key random salt is stored; the secret has 256 bits of entropy, so a
slow password hash would add latency to every request without adding safety. Digests are
compared with :func:`hmac.compare_digest`.

Successful authentications are remembered for ``cache_ttl`` seconds (keyed by a digest of
the presented key, never the key itself), so a revocation made on another server takes
effect within that time; one made through this service takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from typing import get_args

from sqlalchemy.orm import Session

from promptvault.entities import ApiKey
from promptvault.errors import ConflictError, InvalidInputError, NotFoundError, UnauthenticatedError
from promptvault.storage import keys as key_repo
from promptvault.storage.audit import append
from promptvault.storage.database import Database
from promptvault.storage.tables import ApiKeyRow, utcnow

__all__ = ["KEY_PREFIX", "ROLES", "KeyService", "parse_key"]

KEY_PREFIX = "pv_"
ROLES: tuple[str, ...] = get_args(ApiKey.model_fields["role"].annotation)
_ID_LEN = 12
_MAX_NAME = 200


def parse_key(plaintext: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed key, else None."""
    if not isinstance(plaintext, str) or not plaintext.startswith(KEY_PREFIX):
        return None
    body = plaintext[len(KEY_PREFIX) :]
    key_id, sep, secret = body[:_ID_LEN], body[_ID_LEN : _ID_LEN + 1], body[_ID_LEN + 1 :]
    if sep != "_" or len(key_id) != _ID_LEN or not secret or len(secret) > 128:
        return None
    if any(c not in "0123456789abcdef" for c in key_id):
        return None
    return key_id, secret


def _digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


def _to_entity(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.key_id,
        name=row.name,
        role=row.role,
        prefix=f"{KEY_PREFIX}{row.key_id}",
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
    )


class KeyService:
    """API keys of one database."""

    def __init__(
        self,
        db: Database,
        *,
        cache_ttl: float = 2.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.db = db
        self.cache_ttl = cache_ttl
        self._now = clock or time.monotonic
        self._cache: dict[bytes, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

    def create(self, name: str, role: str, *, actor: str = "") -> tuple[str, ApiKey]:
        """A new key: ``(plaintext, record)``. The plaintext exists only in this answer."""
        name = name.strip() if isinstance(name, str) else name
        if not isinstance(name, str) or not name or len(name) > _MAX_NAME:
            raise InvalidInputError(
                f"key name must be 1..{_MAX_NAME} characters", details={"field": "name"}
            )
        if role not in ROLES:
            raise InvalidInputError(
                f"role must be one of {', '.join(ROLES)}, not {role!r}",
                details={"field": "role", "value": role, "allowed": list(ROLES)},
            )
        key_id = secrets.token_hex(_ID_LEN // 2)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)

        def work(s: Session) -> ApiKey:
            if key_repo.has_active_name(s, name):
                raise ConflictError(
                    f"an active key named {name!r} already exists; revoke it first",
                    details={"field": "name", "value": name},
                )
            row = key_repo.insert_key(
                s,
                key_id=key_id,
                name=name,
                role=role,
                salt=salt,
                secret_hash=_digest(salt, secret),
                at=utcnow(),
                actor=actor,
            )
            append(
                s,
                actor=actor,
                action="key.create",
                target=f"key:{name}",
                details={"id": key_id, "name": name, "role": role},
            )
            return _to_entity(row)

        record = self.db.write(work)
        return f"{KEY_PREFIX}{key_id}_{secret}", record

    def list(self, *, include_revoked: bool = False) -> list[ApiKey]:
        """Keys by creation time (active only unless asked)."""
        with self.db.read() as s:
            rows = key_repo.key_rows(s, include_revoked=include_revoked)
            return [_to_entity(row) for row in rows]

    def count_active(self) -> int:
        """How many keys are not revoked."""
        with self.db.read() as s:
            return key_repo.count_active(s)

    def revoke(self, id_or_name: str, *, actor: str = "") -> ApiKey:
        """Revoke the active key with this id (or ``pv_<id>`` prefix) or name."""
        ident = id_or_name.removeprefix(KEY_PREFIX)

        def work(s: Session) -> ApiKey:
            row = key_repo.active_key(s, key_id=ident, name=id_or_name)
            if row is None:
                raise NotFoundError(
                    f"no active API key {id_or_name!r}",
                    details={"field": "key", "value": id_or_name},
                )
            key_repo.revoke_row(s, row, at=utcnow(), actor=actor)
            append(
                s,
                actor=actor,
                action="key.revoke",
                target=f"key:{row.name}",
                details={"id": row.key_id, "name": row.name, "role": row.role},
            )
            return _to_entity(row)

        record = self.db.write(work)
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v[0].id != record.id}
        return record

    def cached(self, plaintext: str | None) -> ApiKey | None:
        """The key if it authenticated within ``cache_ttl``; never touches the database."""
        if not plaintext:
            return None
        hit = self._cache.get(hashlib.sha256(plaintext.encode("utf-8", "replace")).digest())
        if hit is not None and hit[1] > self._now():
            return hit[0]
        return None

    def authenticate(self, plaintext: str | None) -> ApiKey:
        """The active key for ``plaintext``, else :class:`UnauthenticatedError`."""
        if not plaintext:
            raise UnauthenticatedError(
                "an API key is required: send 'Authorization: Bearer pv_...'",
                details={"field": "authorization"},
            )
        fingerprint = hashlib.sha256(plaintext.encode("utf-8", "replace")).digest()
        hit = self._cache.get(fingerprint)
        now = self._now()
        if hit is not None and hit[1] > now:
            return hit[0]
        parsed = parse_key(plaintext)
        if parsed is None:
            raise UnauthenticatedError("malformed API key", details={"field": "authorization"})
        key_id, secret = parsed
        with self.db.read() as s:
            row = key_repo.key_by_id(s, key_id)
            record = _to_entity(row) if row is not None else None
            stored = (row.salt, row.secret_hash) if row is not None else None
        # Compare a digest even for unknown ids so timing does not reveal which ids exist.
        salt, expected = stored or ("00" * 16, "0" * 64)
        ok = hmac.compare_digest(_digest(salt, secret), expected)
        if record is None or not ok or not record.active:
            raise UnauthenticatedError(
                "unknown or revoked API key", details={"field": "authorization"}
            )
        if self.cache_ttl > 0:
            with self._lock:
                if len(self._cache) > 10_000:  # bounded: a flood of keys cannot grow it
                    self._cache.clear()
                self._cache[fingerprint] = (record, now + self.cache_ttl)
        return record
