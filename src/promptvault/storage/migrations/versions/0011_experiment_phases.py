"""Experiments keep their weight history (phases) and each unit's bucket.

A report of a ramped experiment analyses each phase on its own and leaves out the units
whose bucket changed variant after their first exposure; both need the weights of every
phase and the bucket of every unit. Existing experiments get their phases back from their
``experiment.ramp`` audit entries and their units' buckets from the documented hash.

Revision ID: 0011_experiment_phases
Revises: 0010_change_events
"""

from __future__ import annotations

import hashlib
from typing import Any
from zlib import crc32

import sqlalchemy as sa
from alembic import op

from promptvault.storage.tables import UTCDateTime

revision = "0011_experiment_phases"
down_revision: str | None = "0010_change_events"
branch_labels = None
depends_on = None

_CHUNK = 5000


# The documented assignment hash (promptvault.experiments.assignment), written out here so
# that this migration keeps its meaning whatever later code does.
def _seed_keys(seed: str) -> tuple[int, int]:
    digest = hashlib.sha256(seed.encode()).digest()
    return int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:16], "big")


def _bucket(keys: tuple[int, int], unit_id: str) -> int:
    a, b = keys
    x = ((a * crc32(unit_id.encode()) + b) & 0xFFFFFFFFFFFFFFFF) >> 32
    return (x * 10_000) >> 32


def _weights(names: list[str], by_name: Any, fallback: list[float]) -> list[float]:
    if not isinstance(by_name, dict):
        return fallback
    return [float(by_name.get(n, w)) for n, w in zip(names, fallback, strict=True)]


def _field(details: Any, key: str) -> Any:
    return details.get(key) if isinstance(details, dict) else None


def _backfill(conn: sa.Connection) -> None:
    experiments = conn.execute(
        sa.select(
            sa.column("id", sa.Integer()),
            sa.column("name", sa.String()),
            sa.column("seed", sa.String()),
            sa.column("epoch", sa.Integer()),
            sa.column("created_at", UTCDateTime()),
            sa.column("created_by", sa.String()),
        )
        .select_from(sa.table("experiments"))
        .order_by(sa.column("id"))
    ).all()
    phases = sa.table(
        "experiment_phases",
        sa.column("experiment_id", sa.Integer()),
        sa.column("epoch", sa.Integer()),
        sa.column("weights", sa.JSON()),
        sa.column("started_at", UTCDateTime()),
        sa.column("actor", sa.String()),
        sa.column("reason", sa.String()),
    )
    for exp_id, name, seed, epoch, created_at, created_by in experiments:
        variants = conn.execute(
            sa.text(
                "SELECT name, weight FROM experiment_variants "
                "WHERE experiment_id = :e ORDER BY position"
            ),
            {"e": exp_id},
        ).all()
        names = [v[0] for v in variants]
        current = [float(v[1]) for v in variants]
        ramps = conn.execute(
            sa.select(
                sa.column("at", UTCDateTime()),
                sa.column("actor", sa.String()),
                sa.column("details", sa.JSON()),
            )
            .select_from(sa.table("audit_log"))
            .where(
                sa.column("action") == "experiment.ramp",
                sa.column("target") == f"experiment:{name}",
            )
            .order_by(sa.column("seq"))
        ).all()
        rows: list[dict[str, Any]] = []
        if len(ramps) == int(epoch):  # the history is complete: rebuild every phase
            first = _weights(names, _field(ramps[0][2], "from") if ramps else None, current)
            rows.append(
                {
                    "epoch": 0,
                    "weights": first,
                    "started_at": created_at,
                    "actor": created_by,
                    "reason": "create",
                }
            )
            for k, (at, actor, details) in enumerate(ramps, start=1):
                to = _weights(names, _field(details, "to"), current)
                rows.append({"epoch": k, "weights": to, "started_at": at, "actor": actor})
        else:  # only the current weights are known for sure
            rows.append({"epoch": int(epoch), "weights": current, "started_at": created_at})
        conn.execute(
            sa.insert(phases),
            [{"experiment_id": exp_id, "reason": "ramp", "actor": "", **r} for r in rows],
        )
        keys = _seed_keys(seed)
        units = conn.execute(
            sa.text("SELECT unit_id FROM experiment_units WHERE experiment_id = :e"),
            {"e": exp_id},
        ).scalars()
        pending: list[dict[str, Any]] = []
        for unit_id in list(units):
            pending.append({"e": exp_id, "u": unit_id, "b": _bucket(keys, unit_id)})
            if len(pending) >= _CHUNK:
                _set_buckets(conn, pending)
                pending = []
        _set_buckets(conn, pending)


def _set_buckets(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(
            sa.text(
                "UPDATE experiment_units SET bucket = :b WHERE experiment_id = :e AND unit_id = :u"
            ),
            rows,
        )


def upgrade() -> None:
    """Create ``experiment_phases``, add ``experiment_units.bucket`` and fill both."""
    op.create_table(
        "experiment_phases",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_phases_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "epoch", name=op.f("pk_experiment_phases")),
    )
    with op.batch_alter_table("experiment_units") as batch:
        batch.add_column(sa.Column("bucket", sa.Integer(), nullable=True))
    _backfill(op.get_bind())


def downgrade() -> None:
    """Drop the bucket column and the phases table."""
    with op.batch_alter_table("experiment_units") as batch:
        batch.drop_column("bucket")
    op.drop_table("experiment_phases")
