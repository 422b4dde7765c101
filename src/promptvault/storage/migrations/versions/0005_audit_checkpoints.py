"""Signed checkpoints of the audit chain's head.

Revision ID: 0005_audit_checkpoints
Revises: 0004_fewshot

An existing chain gets its first checkpoint when the upgrade is run by promptvault (the
signing key lives outside the database, so this migration cannot sign it itself).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from promptvault.storage.tables import UTCDateTime

revision = "0005_audit_checkpoints"
down_revision: str | None = "0004_fewshot"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the audit_checkpoints table."""
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
        sa.UniqueConstraint("kind", "seq", name=op.f("uq_audit_checkpoints_kind_seq")),
    )


def downgrade() -> None:
    """Drop the audit_checkpoints table."""
    op.drop_table("audit_checkpoints")
