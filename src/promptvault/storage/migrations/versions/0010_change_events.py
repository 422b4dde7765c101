"""The change-event outbox: every change appends one event in its own transaction.

Revision ID: 0010_change_events
Revises: 0009_evals
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from promptvault.storage.tables import UTCDateTime

revision = "0010_change_events"
down_revision: str | None = "0009_evals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the change_events table (AUTOINCREMENT on SQLite: ids are never reused)."""
    op.create_table(
        "change_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("prompt", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_events")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    """Drop the change_events table."""
    op.drop_table("change_events")
