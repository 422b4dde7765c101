"""API keys: create (shown once), list, revoke, authenticate in one indexed query.

A key reads ``pv_<id>_<secret>``: ``id`` is 12 hex characters stored in clear (the lookup
index, also shown in listings), ``secret`` is 32 random bytes. Only ``HMAC-SHA256(salt,
secret)`` with a per-key random salt is stored; the secret has 256 bits of entropy, so a
slow password hash would add latency to every request without adding safety. Digests are
compared with :func:`hmac.compare_digest`.

Successful authentications are remembered for ``cache_ttl`` seconds (keyed by a digest of
the presented key, never the key itself, and never past the key's expiry), so a revocation
made on another server takes effect within that time; one made through this service takes
effect at once.

Keys may expire (``expires_at``) and be rotated: :meth:`KeyService.rotate` issues a new key
with the same name and role, and the old one keeps working for a grace period
(``settings.key_rotation_grace``, 24 h by default), then stops. When a key was last used is
recorded at most once a minute per key, by a background thread, so authentication itself
never waits for a write.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import get_args

from promptvault.entities import API_KEY_PREFIX, ApiKey
from promptvault.errors import ConflictError, InvalidInputError, NotFoundError, UnauthenticatedError
from promptvault.storage.database import Database
from promptvault.storage.unit_of_work import UnitOfWork, utcnow

__all__ = [
    "KEY_PREFIX",
    "LANGFUSE_PUBLIC_PREFIX",
    "LANGFUSE_SECRET_PREFIX",
    "LAST_USED_INTERVAL",
    "ROLES",
    "KeyService",
    "from_langfuse_pair",
    "langfuse_pair",
    "parse_key",
]

log = logging.getLogger(__name__)

# Seconds between two writes of one key's last-used time.
LAST_USED_INTERVAL = 60.0

KEY_PREFIX = API_KEY_PREFIX
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


# The Langfuse SDK authenticates with a public/secret pair. A promptvault key is already a
# public id and a secret, so the pair is the same key written in two halves: nothing more is
# stored, and the secret stays known only as its salted digest.
LANGFUSE_PUBLIC_PREFIX = "pk-lf-"
LANGFUSE_SECRET_PREFIX = "sk-lf-"  # noqa: S105 - a prefix, not a secret


def langfuse_pair(plaintext: str) -> tuple[str, str]:
    """``(public key, secret key)`` for the Langfuse SDK, from a ``pv_<id>_<secret>`` key."""
    parsed = parse_key(plaintext)
    if parsed is None:
        raise InvalidInputError("malformed API key", details={"field": "key"})
    key_id, secret = parsed
    return f"{LANGFUSE_PUBLIC_PREFIX}{key_id}", f"{LANGFUSE_SECRET_PREFIX}{secret}"


def from_langfuse_pair(public: str, secret: str) -> str | None:
    """The ``pv_`` key a Langfuse public/secret pair stands for (None if not one of ours)."""
    if not public.startswith(LANGFUSE_PUBLIC_PREFIX) or not secret.startswith(
        LANGFUSE_SECRET_PREFIX
    ):
        return None
    plaintext = (
        f"{KEY_PREFIX}{public[len(LANGFUSE_PUBLIC_PREFIX) :]}_"
        f"{secret[len(LANGFUSE_SECRET_PREFIX) :]}"
    )
    return plaintext if parse_key(plaintext) is not None else None


def _digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


class _UsageRecorder:
    """Last-used times, written in the background at most once per ``interval`` per key.

    :meth:`record` is on every authenticated request: two dict lookups unless the key is
    due, then it queues the time and wakes one daemon thread that writes the queue.
    """

    def __init__(self, db: Database, *, interval: float, clock: Callable[[], float]) -> None:
        self.db = db
        self.interval = interval
        self._now = clock
        self._recorded: dict[str, float] = {}
        self._pending: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = -1

    def record(self, key_id: str) -> None:
        now = self._now()
        last = self._recorded.get(key_id)
        if last is not None and now - last < self.interval:
            return
        with self._lock:
            self._recorded[key_id] = now
            self._pending[key_id] = utcnow()
            if self._thread is None or self._pid != os.getpid():
                # Started lazily, and again in a forked worker (threads do not survive fork).
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="promptvault-key-usage", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if pending:
            interval = self.interval
            self.db.write_work(lambda work: work.keys.touch_last_used(pending, interval=interval))

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # a busy or read-only database must not end the thread
                log.warning("could not record API key usage", exc_info=True)


class KeyService:
    """API keys of one database."""

    def __init__(
        self,
        db: Database,
        *,
        cache_ttl: float = 2.0,
        rotation_grace: float = 24 * 3600,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.db = db
        self.cache_ttl = cache_ttl
        self.rotation_grace = rotation_grace
        self._now = clock or time.monotonic
        self._cache: dict[bytes, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()
        self._usage = _UsageRecorder(db, interval=LAST_USED_INTERVAL, clock=self._now)

    @staticmethod
    def _check_name(name: str) -> str:
        name = name.strip() if isinstance(name, str) else name
        if not isinstance(name, str) or not name or len(name) > _MAX_NAME:
            raise InvalidInputError(
                f"key name must be 1..{_MAX_NAME} characters", details={"field": "name"}
            )
        return name

    @staticmethod
    def _check_expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
        if expires_at is None:
            return None
        if expires_at.tzinfo is None:
            raise InvalidInputError(
                "expires_at needs a time zone (for example 2030-01-01T00:00:00Z)",
                details={"field": "expires_at"},
            )
        if expires_at <= now:
            raise InvalidInputError(
                f"expires_at {_iso(expires_at)} is not in the future",
                details={"field": "expires_at", "value": _iso(expires_at)},
            )
        return expires_at

    def _new_secret(self) -> tuple[str, str, str]:
        return secrets.token_hex(_ID_LEN // 2), secrets.token_urlsafe(32), secrets.token_hex(16)

    def _forget(self, key_ids: set[str]) -> None:
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v[0].id not in key_ids}

    def create(
        self,
        name: str,
        role: str,
        *,
        actor: str = "",
        expires_at: datetime | None = None,
    ) -> tuple[str, ApiKey]:
        """A new key: ``(plaintext, record)``. The plaintext exists only in this answer.

        ``expires_at`` (aware, in the future) ends the key by itself; None never expires.
        """
        name = self._check_name(name)
        now = utcnow()
        expires_at = self._check_expiry(expires_at, now)
        if role not in ROLES:
            raise InvalidInputError(
                f"role must be one of {', '.join(ROLES)}, not {role!r}",
                details={"field": "role", "value": role, "allowed": list(ROLES)},
            )
        key_id, secret, salt = self._new_secret()

        def change(work: UnitOfWork) -> ApiKey:
            if work.keys.name_taken(name, now=utcnow()):
                raise ConflictError(
                    f"an active key named {name!r} already exists; revoke it first",
                    details={"field": "name", "value": name},
                )
            record = work.keys.insert(
                key_id=key_id,
                name=name,
                role=role,
                salt=salt,
                secret_hash=_digest(salt, secret),
                at=now,
                actor=actor,
                expires_at=expires_at,
            )
            details: dict[str, object] = {"id": key_id, "name": name, "role": role}
            if expires_at is not None:
                details["expires_at"] = _iso(expires_at)
            work.audit(actor=actor, action="key.create", target=f"key:{name}", details=details)
            return record

        record = self.db.write_work(change)
        return f"{KEY_PREFIX}{key_id}_{secret}", record

    def list(self, *, include_revoked: bool = False) -> list[ApiKey]:
        """Keys by creation time (active only unless asked)."""
        with self.db.read_work() as work:
            return work.keys.all(include_revoked=include_revoked, now=utcnow())

    def count_active(self) -> int:
        """How many keys are live (neither revoked nor expired)."""
        with self.db.read_work() as work:
            return work.keys.count_live(now=utcnow())

    def revoke(self, id_or_name: str, *, actor: str = "") -> ApiKey:
        """Revoke the live key with this id (or ``pv_<id>`` prefix), or every live key
        with this name (a rotated key in its grace period too); returns the newest."""
        ident = id_or_name.removeprefix(KEY_PREFIX)

        def change(work: UnitOfWork) -> list[ApiKey]:
            now = utcnow()
            live = work.keys.live(key_id=ident, name=id_or_name, now=now)
            if not live:
                raise NotFoundError(
                    f"no active API key {id_or_name!r}",
                    details={"field": "key", "value": id_or_name},
                )
            revoked = []
            for key in live:
                revoked.append(work.keys.revoke(key, at=now, actor=actor))
                # Its web UI sessions end with it, in the same transaction.
                work.ui_sessions.revoke_for_key(key.id, at=now)
                work.audit(
                    actor=actor,
                    action="key.revoke",
                    target=f"key:{key.name}",
                    details={"id": key.id, "name": key.name, "role": key.role},
                )
            return revoked

        records = self.db.write_work(change)
        self._forget({r.id for r in records})
        return records[-1]

    def rotate(
        self,
        id_or_name: str,
        *,
        actor: str = "",
        grace: float | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[str, ApiKey, ApiKey]:
        """Replace a key: ``(new plaintext, new record, old record)``.

        The new key has the same name and role; the old one keeps working for ``grace``
        seconds (default ``rotation_grace``), then stops. The new key expires at
        ``expires_at``, else after the same lifetime the old key had, else never.
        """
        ident = id_or_name.removeprefix(KEY_PREFIX)
        grace_seconds = self.rotation_grace if grace is None else grace
        if isinstance(grace_seconds, bool) or grace_seconds < 0:
            raise InvalidInputError("grace must be >= 0 seconds", details={"field": "grace"})
        now = utcnow()
        expires_at = self._check_expiry(expires_at, now)
        key_id, secret, salt = self._new_secret()

        def change(work: UnitOfWork) -> tuple[ApiKey, ApiKey]:
            at = utcnow()
            old = work.keys.current(key_id=ident, name=id_or_name, now=at)
            if old is None:
                raise NotFoundError(
                    f"no active API key {id_or_name!r}",
                    details={"field": "key", "value": id_or_name},
                )
            if old.replaced_by is not None:
                raise ConflictError(
                    f"key {old.prefix} ({old.name!r}) was already rotated; "
                    f"rotate its replacement {KEY_PREFIX}{old.replaced_by}",
                    details={"field": "key", "replaced_by": old.replaced_by},
                )
            new_expiry = expires_at
            if new_expiry is None and old.expires_at is not None:
                new_expiry = at + (old.expires_at - old.created_at)
            record = work.keys.insert(
                key_id=key_id,
                name=old.name,
                role=old.role,
                salt=salt,
                secret_hash=_digest(salt, secret),
                at=at,
                actor=actor,
                expires_at=new_expiry,
            )
            until = at + timedelta(seconds=grace_seconds)
            retired = work.keys.retire(old, replaced_by=key_id, until=until)
            details: dict[str, object] = {
                "id": key_id,
                "name": old.name,
                "role": old.role,
                "replaces": old.id,
                "old_key_until": _iso(retired.expires_at or until),
            }
            if new_expiry is not None:
                details["expires_at"] = _iso(new_expiry)
            work.audit(actor=actor, action="key.rotate", target=f"key:{old.name}", details=details)
            return record, retired

        record, old_record = self.db.write_work(change)
        self._forget({old_record.id})
        return f"{KEY_PREFIX}{key_id}_{secret}", record, old_record

    def flush_usage(self) -> None:
        """Write the queued last-used times now (the background thread does it anyway)."""
        self._usage.flush()

    def cached(self, plaintext: str | None) -> ApiKey | None:
        """The key if it authenticated within ``cache_ttl``; never touches the database."""
        if not plaintext:
            return None
        hit = self._cache.get(hashlib.sha256(plaintext.encode("utf-8", "replace")).digest())
        if hit is not None and hit[1] > self._now():
            self._usage.record(hit[0].id)
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
            self._usage.record(hit[0].id)
            return hit[0]
        parsed = parse_key(plaintext)
        if parsed is None:
            raise UnauthenticatedError("malformed API key", details={"field": "authorization"})
        key_id, secret = parsed
        with self.db.read_work() as work:
            found = work.keys.credentials(key_id)
        record = found.key if found is not None else None
        # Compare a digest even for unknown ids so timing does not reveal which ids exist.
        salt, expected = (found.salt, found.secret_hash) if found else ("00" * 16, "0" * 64)
        ok = hmac.compare_digest(_digest(salt, secret), expected)
        if record is None or not ok:
            raise UnauthenticatedError(
                "unknown or revoked API key", details={"field": "authorization"}
            )
        _refuse_inactive(record)
        self._usage.record(record.id)
        ttl = self.cache_ttl
        if record.expires_at is not None:  # never cached past its expiry
            ttl = min(ttl, (record.expires_at - utcnow()).total_seconds())
        if ttl > 0:
            with self._lock:
                if len(self._cache) > 10_000:  # bounded: a flood of keys cannot grow it
                    self._cache.clear()
                self._cache[fingerprint] = (record, now + ttl)
        return record


def _refuse_inactive(record: ApiKey) -> None:
    """401 with what happened to a key whose secret was right but which no longer works."""
    who = f"API key {record.name!r} ({record.prefix})"
    details: dict[str, object] = {"field": "authorization", "key": record.prefix}
    if record.revoked_at is not None:
        raise UnauthenticatedError(
            f"{who} was revoked at {_iso(record.revoked_at)}",
            details={**details, "reason": "revoked"},
        )
    if record.expired:
        assert record.expires_at is not None
        if record.replaced_by:
            raise UnauthenticatedError(
                f"{who} was replaced by {KEY_PREFIX}{record.replaced_by} in a rotation and "
                f"its grace period ended at {_iso(record.expires_at)}: use the new key",
                details={**details, "reason": "rotated", "expired_at": _iso(record.expires_at)},
            )
        raise UnauthenticatedError(
            f"{who} expired at {_iso(record.expires_at)}: create a new key or rotate it",
            details={**details, "reason": "expired", "expired_at": _iso(record.expires_at)},
        )
