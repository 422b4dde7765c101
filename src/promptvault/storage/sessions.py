"""Web UI sessions as a unit of work sees them (``work.ui_sessions``).

:class:`promptvault.registry.sessions.SessionStore` works through
:class:`UISessionRepository`; every answer is a plain value (a key id, a count).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from promptvault.storage.tables import UISessionRow

__all__ = ["UISessionRepository"]


class UISessionRepository:
    """The web UI session table within one transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def insert(self, *, session_hash: str, key_id: str, at: datetime, expires_at: datetime) -> None:
        """Record a new session."""
        self._session.add(
            UISessionRow(
                session_hash=session_hash, key_id=key_id, created_at=at, expires_at=expires_at
            )
        )
        self._session.flush()

    def live_key(self, session_hash: str, *, now: datetime) -> str | None:
        """The key id of the session if it is neither revoked nor expired, else None."""
        query = select(UISessionRow.key_id).where(
            UISessionRow.session_hash == session_hash,
            UISessionRow.revoked_at.is_(None),
            UISessionRow.expires_at > now,
        )
        return self._session.execute(query).scalar_one_or_none()

    def revoke(self, session_hash: str, *, at: datetime) -> bool:
        """Mark one session revoked; whether it was live."""
        query = (
            update(UISessionRow)
            .where(UISessionRow.session_hash == session_hash, UISessionRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return bool(self._session.execute(query).rowcount)  # type: ignore[attr-defined]

    def revoke_for_key(self, key_id: str, *, at: datetime) -> int:
        """Revoke every live session of a key; how many."""
        query = (
            update(UISessionRow)
            .where(UISessionRow.key_id == key_id, UISessionRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return int(self._session.execute(query).rowcount)  # type: ignore[attr-defined]

    def delete_expired(self, *, now: datetime) -> None:
        """Forget sessions past their expiry (they can no longer be used anyway)."""
        self._session.execute(delete(UISessionRow).where(UISessionRow.expires_at <= now))
