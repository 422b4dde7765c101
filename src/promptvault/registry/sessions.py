"""Web UI sessions kept in the database, so that signing out really ends one.

A session cookie is signed (it cannot be forged), but a signature alone cannot be taken
back: before sessions were stored, a cookie kept working until it expired even after its
owner signed out. Now each session has a random id, stored as a digest with its key and
expiry; signing out revokes it in the database, and every server refuses it within
``cache_ttl`` seconds (the server that signed it out at once).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from promptvault.storage.database import Database
from promptvault.storage.unit_of_work import UnitOfWork, utcnow

__all__ = ["SessionStore"]

_CACHE_MAX = 10_000


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


class SessionStore:
    """Start, check and end web UI sessions of one database."""

    def __init__(
        self,
        db: Database,
        *,
        max_age: float,
        cache_ttl: float = 2.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.db = db
        self.max_age = max_age
        self.cache_ttl = cache_ttl
        self._now = clock or time.monotonic
        self._live: dict[str, tuple[str, float]] = {}  # digest -> (key id, checked until)
        self._lock = threading.Lock()

    def start(self, key_id: str) -> str:
        """A new session id for ``key_id`` (goes into the signed cookie)."""
        session_id = secrets.token_urlsafe(24)
        now = utcnow()

        def change(work: UnitOfWork) -> None:
            work.ui_sessions.delete_expired(now=now)
            work.ui_sessions.insert(
                session_hash=_digest(session_id),
                key_id=key_id,
                at=now,
                expires_at=now + timedelta(seconds=self.max_age),
            )

        self.db.write_work(change)
        return session_id

    def cached_key(self, session_id: str) -> str | None:
        """The session's key id if it was checked live within ``cache_ttl`` (no database)."""
        hit = self._live.get(_digest(session_id))
        if hit is not None and hit[1] > self._now():
            return hit[0]
        return None

    def key_of(self, session_id: str) -> str | None:
        """The key id of a live session (not revoked, not expired), else None."""
        digest = _digest(session_id)
        hit = self._live.get(digest)
        if hit is not None and hit[1] > self._now():
            return hit[0]
        with self.db.read_work() as work:
            key_id = work.ui_sessions.live_key(digest, now=utcnow())
        with self._lock:
            if key_id is None:
                self._live.pop(digest, None)
            elif self.cache_ttl > 0:
                if len(self._live) >= _CACHE_MAX:
                    self._live.clear()
                self._live[digest] = (key_id, self._now() + self.cache_ttl)
        return key_id

    def end(self, session_id: str) -> bool:
        """Revoke one session (sign-out); whether it was live."""
        digest = _digest(session_id)
        with self._lock:
            self._live.pop(digest, None)
        return self.db.write_work(lambda work: work.ui_sessions.revoke(digest, at=utcnow()))

    def end_for_key(self, key_id: str) -> int:
        """Revoke every session of a key (the key was revoked); how many."""
        with self._lock:
            self._live = {d: v for d, v in self._live.items() if v[0] != key_id}
        return self.db.write_work(lambda work: work.ui_sessions.revoke_for_key(key_id, at=utcnow()))
