"""API key lifecycle: expiry, last use and rotation.

Revision ID: 0006_key_lifecycle
Revises: 0005_audit_checkpoints
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from promptvault.storage.tables import UTCDateTime

revision = "0006_key_lifecycle"
down_revision: str | None = "0005_audit_checkpoints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add expires_at, last_used_at and replaced_by to api_keys."""
    # Nullable columns: a plain ALTER TABLE ADD COLUMN on both databases, no table copy.
    op.add_column("api_keys", sa.Column("expires_at", UTCDateTime(), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_at", UTCDateTime(), nullable=True))
    op.add_column("api_keys", sa.Column("replaced_by", sa.String(length=32), nullable=True))


def downgrade() -> None:
    """Drop the lifecycle columns."""
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("replaced_by")
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
