"""Web UI sessions as a unit of work sees them (``work.ui_sessions``), and their queries.

:class:`promptvault.registry.sessions.SessionStore` works through
:class:`UISessionRepository`; every answer is a plain value (a key id, a count).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from promptvault.storage.tables import UISessionRow

__all__ = [
    "UISessionRepository",
    "delete_expired",
    "insert_session",
    "live_session_key",
    "revoke_for_key",
    "revoke_session",
]


def insert_session(
    session: Session, *, session_hash: str, key_id: str, at: datetime, expires_at: datetime
) -> None:
    """Record a new session."""
    session.add(
        UISessionRow(session_hash=session_hash, key_id=key_id, created_at=at, expires_at=expires_at)
    )
    session.flush()


def live_session_key(session: Session, session_hash: str, *, now: datetime) -> str | None:
    """The key id of the session if it is neither revoked nor expired, else None."""
    query = select(UISessionRow.key_id).where(
        UISessionRow.session_hash == session_hash,
        UISessionRow.revoked_at.is_(None),
        UISessionRow.expires_at > now,
    )
    return session.execute(query).scalar_one_or_none()


def revoke_session(session: Session, session_hash: str, *, at: datetime) -> bool:
    """Mark one session revoked; whether it was live."""
    query = (
        update(UISessionRow)
        .where(UISessionRow.session_hash == session_hash, UISessionRow.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return bool(session.execute(query).rowcount)  # type: ignore[attr-defined]


def revoke_for_key(session: Session, key_id: str, *, at: datetime) -> int:
    """Revoke every live session of a key; how many."""
    query = (
        update(UISessionRow)
        .where(UISessionRow.key_id == key_id, UISessionRow.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return int(session.execute(query).rowcount)  # type: ignore[attr-defined]


def delete_expired(session: Session, *, now: datetime) -> None:
    """Forget sessions past their expiry (they can no longer be used anyway)."""
    session.execute(delete(UISessionRow).where(UISessionRow.expires_at <= now))


class UISessionRepository:
    """The web UI session table within one transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def insert(self, *, session_hash: str, key_id: str, at: datetime, expires_at: datetime) -> None:
        """Record a new session."""
        insert_session(
            self._session, session_hash=session_hash, key_id=key_id, at=at, expires_at=expires_at
        )

    def live_key(self, session_hash: str, *, now: datetime) -> str | None:
        """The key id of the session if it is neither revoked nor expired, else None."""
        return live_session_key(self._session, session_hash, now=now)

    def revoke(self, session_hash: str, *, at: datetime) -> bool:
        """Mark one session revoked; whether it was live."""
        return revoke_session(self._session, session_hash, at=at)

    def revoke_for_key(self, key_id: str, *, at: datetime) -> int:
        """Revoke every live session of a key; how many."""
        return revoke_for_key(self._session, key_id, at=at)

    def delete_expired(self, *, now: datetime) -> None:
        """Forget sessions past their expiry."""
        delete_expired(self._session, now=now)
