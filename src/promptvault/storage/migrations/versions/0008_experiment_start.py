"""Experiments remember who started them and where their label pointed at the start.

Revision ID: 0008_experiment_start
Revises: 0007_ui_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_experiment_start"
down_revision: str | None = "0007_ui_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``experiments.started_by`` and ``experiments.label_version``."""
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(
            sa.Column("started_by", sa.String(length=200), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("label_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop the two columns."""
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("label_version")
        batch.drop_column("started_by")
