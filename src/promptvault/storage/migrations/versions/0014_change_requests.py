"""Change requests (four-eyes approval of label moves) and comments.

Revision ID: 0014_change_requests
Revises: 0013_experiment_allocation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from promptvault.storage.tables import UTCDateTime

revision = "0014_change_requests"
down_revision: str | None = "0013_experiment_allocation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the change_requests and comments tables."""
    op.create_table(
        "change_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts.id"],
            name=op.f("fk_change_requests_prompt_id_prompts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_requests")),
    )
    op.create_index(
        op.f("ix_change_requests_status_id"), "change_requests", ["status", "id"], unique=False
    )
    op.create_index(
        op.f("ix_change_requests_prompt_id_id"),
        "change_requests",
        ["prompt_id", "id"],
        unique=False,
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts.id"],
            name=op.f("fk_comments_prompt_id_prompts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["change_requests.id"],
            name=op.f("fk_comments_request_id_change_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index(
        op.f("ix_comments_prompt_id_version_id"),
        "comments",
        ["prompt_id", "version", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_comments_request_id_id"), "comments", ["request_id", "id"], unique=False
    )


def downgrade() -> None:
    """Drop the comments and change_requests tables."""
    op.drop_index(op.f("ix_comments_request_id_id"), table_name="comments")
    op.drop_index(op.f("ix_comments_prompt_id_version_id"), table_name="comments")
    op.drop_table("comments")
    op.drop_index(op.f("ix_change_requests_prompt_id_id"), table_name="change_requests")
    op.drop_index(op.f("ix_change_requests_status_id"), table_name="change_requests")
    op.drop_table("change_requests")
