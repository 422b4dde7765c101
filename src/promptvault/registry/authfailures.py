"""The aggregate audit entry for failed authentications (one per window, not per failure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptvault.storage.database import Database

__all__ = ["AUTH_FAILURES_ACTION", "record_auth_failures"]

AUTH_FAILURES_ACTION = "auth.failures"


def record_auth_failures(db: Database, summary: Mapping[str, Any], *, actor: str) -> None:
    """Append one ``auth.failures`` entry with a window's counts."""
    db.write_work(
        lambda work: work.audit(
            actor=actor,
            action=AUTH_FAILURES_ACTION,
            target="auth",
            details=dict(summary),
        )
    )
