"""Experiments choose their allocation: fixed weights, or a bandit with a floor per arm.

Revision ID: 0013_experiment_allocation
Revises: 0012_webhooks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_experiment_allocation"
down_revision: str | None = "0012_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``experiments.allocation`` and ``experiments.floor``."""
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(
            sa.Column("allocation", sa.String(length=16), nullable=False, server_default="fixed")
        )
        batch.add_column(sa.Column("floor", sa.Float(), nullable=False, server_default="0.05"))


def downgrade() -> None:
    """Drop the two columns.

    Plain ``ALTER TABLE ... DROP COLUMN`` (SQLite 3.35+): a batch copy of ``experiments``
    would drop the old table, and with foreign keys on that deletes every variant, phase
    and statistic through their ``ON DELETE CASCADE``."""
    for column in ("floor", "allocation"):
        op.execute(f"ALTER TABLE experiments DROP COLUMN {column}")
