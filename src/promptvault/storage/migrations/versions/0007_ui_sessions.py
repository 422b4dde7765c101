"""Web UI sessions, stored so that signing out (or revoking the key) ends them.

Revision ID: 0007_ui_sessions
Revises: 0006_key_lifecycle
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from promptvault.storage.tables import UTCDateTime

revision = "0007_ui_sessions"
down_revision: str | None = "0006_key_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ui_sessions table."""
    op.create_table(
        "ui_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ui_sessions")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_ui_sessions_session_hash")),
    )
    op.create_index(op.f("ix_ui_sessions_key_id"), "ui_sessions", ["key_id"], unique=False)
    op.create_index(op.f("ix_ui_sessions_expires_at"), "ui_sessions", ["expires_at"], unique=False)


def downgrade() -> None:
    """Drop the ui_sessions table."""
    op.drop_index(op.f("ix_ui_sessions_expires_at"), table_name="ui_sessions")
    op.drop_index(op.f("ix_ui_sessions_key_id"), table_name="ui_sessions")
    op.drop_table("ui_sessions")
