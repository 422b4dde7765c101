"""Evaluation runs carry a lease: the process executing them, and until when.

Revision ID: 0015_eval_run_lease
Revises: 0014_change_requests
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from promptvault.storage.tables import UTCDateTime

revision = "0015_eval_run_lease"
down_revision: str | None = "0014_change_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``eval_runs.owner`` and ``eval_runs.lease_until`` (both empty on older runs: a
    ``running`` run without a lease reads as interrupted, as its process is long gone)."""
    # Plain ADD COLUMN, no batch copy: dropping the old eval_runs on SQLite would delete
    # every result through ON DELETE CASCADE.
    op.add_column("eval_runs", sa.Column("owner", sa.String(length=100), nullable=True))
    op.add_column("eval_runs", sa.Column("lease_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    """Drop the two columns (SQLite 3.35+ drops a column in place)."""
    for column in ("lease_until", "owner"):
        op.execute(f"ALTER TABLE eval_runs DROP COLUMN {column}")
