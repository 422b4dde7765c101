"""Repositories for experiments: definitions, units, raw events and sufficient statistics.

Functions take a session and return plain dicts and tuples (rows never leave storage;
services reach them through :class:`~promptvault.storage.unit_of_work.ExperimentRepository`);
the experiments service turns the dicts into its values, since storage sits below it.
Event writes are bulk statements (``executemany``, which SQLAlchemy batches into multi-row
``INSERT``\\s) and statistics are added with one upsert per (variant, metric, day) per batch,
so ingestion cost grows with the batch, not with one round trip per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from promptvault.storage.tables import (
    EventBatchRow,
    ExperimentPhaseRow,
    ExperimentRow,
    ExperimentUnitRow,
    ExperimentVariantRow,
    PromptRow,
    RejectionRow,
    VariantStatRow,
    exposures_table,
    outcomes_table,
)

__all__ = [
    "EXPOSURE_COLUMNS",
    "OUTCOME_COLUMNS",
    "UNIT_COLUMNS",
    "StatKey",
    "add_rejections",
    "add_stats",
    "batch_result",
    "control_version",
    "insert_experiment",
    "insert_exposures",
    "insert_outcomes",
    "insert_phase",
    "insert_units",
    "known_units",
    "list_experiments",
    "load_experiment",
    "load_phases",
    "phase_stats",
    "recompute_stats",
    "rejections",
    "replace_weights",
    "running_experiments",
    "running_on_label",
    "running_slot",
    "save_batch",
    "stat_days",
    "stat_totals",
]

StatKey = tuple[int, int, str, str]
"""``(experiment_id, variant position, metric, day)``."""

_IN_CHUNK = 500  # ids per IN (...) list: well inside every database's parameter limit


def _upsert(session: Session, table: Table) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


# --- definitions -----------------------------------------------------------------------


def _variants(session: Session, experiment_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in experiment_ids}
    if not experiment_ids:
        return out
    rows = session.execute(
        select(ExperimentVariantRow)
        .where(ExperimentVariantRow.experiment_id.in_(list(experiment_ids)))
        .order_by(ExperimentVariantRow.experiment_id, ExperimentVariantRow.position)
    ).scalars()
    for row in rows:
        out[row.experiment_id].append(
            {"name": row.name, "version": row.version, "weight": row.weight}
        )
    return out


def _to_dict(row: ExperimentRow, prompt: str, variants: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "prompt": prompt,
        "label": row.label,
        "status": row.status,
        "unit_type": row.unit_type,
        "coverage": row.coverage,
        "seed": row.seed,
        "epoch": row.epoch,
        "variants": variants,
        "primary_metric": row.primary_metric,
        "guardrails": list(row.guardrails or ()),
        "metrics": list(row.metrics or ()),
        "description": row.description,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "started_at": row.started_at,
        "stopped_at": row.stopped_at,
        "started_by": row.started_by,
        "label_version": row.label_version,
        "decision": row.decision,
        "allocation": row.allocation,
        "floor": row.floor,
    }


def _load(session: Session, query: Any) -> list[dict[str, Any]]:
    pairs = session.execute(query.join(PromptRow, PromptRow.id == ExperimentRow.prompt_id)).all()
    variants = _variants(session, [row.id for row, _ in pairs])
    return [_to_dict(row, prompt, variants[row.id]) for row, prompt in pairs]


def load_experiment(session: Session, name: str) -> dict[str, Any] | None:
    """Experiment ``name``'s fields (``id`` included), variants (control first), or None."""
    found = _load(session, select(ExperimentRow, PromptRow.name).where(ExperimentRow.name == name))
    return found[0] if found else None


def list_experiments(
    session: Session, *, prompt: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Experiments newest first, optionally of one prompt and/or in one status."""
    query = select(ExperimentRow, PromptRow.name).order_by(ExperimentRow.id.desc())
    if prompt is not None:
        query = query.where(PromptRow.name == prompt)
    if status is not None:
        query = query.where(ExperimentRow.status == status)
    return _load(session, query)


def running_experiments(
    session: Session, prompt: str, label: str | None = None
) -> list[dict[str, Any]]:
    """The running experiments of a prompt (of one label when given: at most one)."""
    query = select(ExperimentRow, PromptRow.name).where(
        PromptRow.name == prompt, ExperimentRow.status == "running"
    )
    if label is not None:
        query = query.where(ExperimentRow.label == label)
    return _load(session, query)


def running_on_label(session: Session, prompt_id: int, label: str) -> str | None:
    """The name of the experiment running on a prompt's label, if one is."""
    return session.execute(
        select(ExperimentRow.name).where(
            ExperimentRow.running_slot == running_slot(prompt_id, label)
        )
    ).scalar_one_or_none()


def running_slot(prompt_id: int, label: str) -> str:
    """The value of ``running_slot`` that makes "one running experiment per label" unique."""
    return f"{prompt_id}:{label}"


def insert_experiment(
    session: Session, *, variants: Sequence[Mapping[str, Any]], **fields: Any
) -> int:
    """Insert an experiment and its variants; returns its id."""
    row = ExperimentRow(**fields)
    session.add(row)
    session.flush()
    session.execute(
        insert(ExperimentVariantRow.__table__),  # type: ignore[arg-type]
        [
            {
                "experiment_id": row.id,
                "position": i,
                "name": v["name"],
                "version": v["version"],
                "weight": v["weight"],
            }
            for i, v in enumerate(variants)
        ],
    )
    return row.id


def update_experiment(session: Session, experiment_id: int, **fields: Any) -> None:
    """Set ``fields`` on one experiment (status changes, decision, epoch)."""
    session.execute(update(ExperimentRow).where(ExperimentRow.id == experiment_id).values(**fields))


def control_version(session: Session, experiment_id: int) -> int:
    """The version control (the variant at position 0) serves."""
    return int(
        session.execute(
            select(ExperimentVariantRow.version).where(
                ExperimentVariantRow.experiment_id == experiment_id,
                ExperimentVariantRow.position == 0,
            )
        ).scalar_one()
    )


def replace_weights(session: Session, experiment_id: int, weights: Mapping[str, float]) -> None:
    """Set new weights on the named variants."""
    for name, weight in weights.items():
        session.execute(
            update(ExperimentVariantRow)
            .where(
                ExperimentVariantRow.experiment_id == experiment_id,
                ExperimentVariantRow.name == name,
            )
            .values(weight=weight)
        )


def insert_phase(
    session: Session,
    experiment_id: int,
    *,
    epoch: int,
    weights: Sequence[float],
    at: datetime,
    actor: str,
    reason: str,
) -> None:
    """Record the weights in force from ``at`` on (weight epoch ``epoch``)."""
    session.execute(
        insert(ExperimentPhaseRow.__table__),  # type: ignore[arg-type]
        {
            "experiment_id": experiment_id,
            "epoch": epoch,
            "weights": [float(w) for w in weights],
            "started_at": at,
            "actor": actor[:200],
            "reason": reason,
        },
    )


def load_phases(session: Session, experiment_id: int) -> list[dict[str, Any]]:
    """Every recorded phase, oldest first: ``{"epoch", "weights", "started_at", "actor",
    "reason"}``."""
    rows = session.execute(
        select(ExperimentPhaseRow)
        .where(ExperimentPhaseRow.experiment_id == experiment_id)
        .order_by(ExperimentPhaseRow.epoch)
    ).scalars()
    return [
        {
            "epoch": r.epoch,
            "weights": [float(w) for w in r.weights],
            "started_at": r.started_at,
            "actor": r.actor,
            "reason": r.reason,
        }
        for r in rows
    ]


# --- event batches -----------------------------------------------------------------------


def batch_result(session: Session, key: str) -> dict[str, Any] | None:
    """The stored result of batch ``key`` when it was ingested before."""
    found = session.execute(
        select(EventBatchRow.result).where(EventBatchRow.key == key)
    ).scalar_one_or_none()
    return None if found is None else dict(found)


def save_batch(session: Session, key: str, result: Mapping[str, Any], at: datetime) -> None:
    """Remember batch ``key`` and its result (the primary key refuses a second insert)."""
    session.execute(
        insert(EventBatchRow.__table__),  # type: ignore[arg-type]
        {"key": key, "received_at": at, "result": dict(result)},
    )


def known_units(session: Session, experiment_id: int, unit_ids: Iterable[str]) -> dict[str, int]:
    """``{unit_id: variant position}`` for the given units already exposed.

    On the ingestion hot path: one ``= ANY(array)`` query on PostgreSQL, ``IN`` lists of
    at most 500 ids on SQLite, through the driver (no statement compiled per call).
    """
    ids = list(unit_ids)
    if not ids:
        return {}
    raw: Any = session.connection().connection.driver_connection
    out: dict[str, int] = {}
    if session.get_bind().dialect.name == "postgresql":
        with raw.cursor() as cursor:
            cursor.execute(
                "SELECT unit_id, variant FROM experiment_units "
                "WHERE experiment_id = %s AND unit_id = ANY(%s)",
                (experiment_id, ids),
            )
            out.update(cursor.fetchall())
        return out
    cursor = raw.cursor()
    try:
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            sql = (  # only placeholders are formatted in
                "SELECT unit_id, variant FROM experiment_units "  # noqa: S608
                f"WHERE experiment_id = ? AND unit_id IN ({marks})"
            )
            cursor.execute(sql, (experiment_id, *chunk))
            out.update(cursor.fetchall())
    finally:
        cursor.close()
    return out


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


UNIT_COLUMNS = ("experiment_id", "unit_id", "variant", "epoch", "bucket", "first_at")
EXPOSURE_COLUMNS = ("experiment_id", "variant", "unit_id", "random", "at")
OUTCOME_COLUMNS = ("experiment_id", "variant", "unit_id", "metric", "value", "at")


def _bulk(
    session: Session, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert many rows through the driver: ``COPY`` on PostgreSQL, ``executemany`` on SQLite.

    This is the ingestion hot path, so it skips SQLAlchemy's per-row parameter processing:
    rows are tuples in ``columns`` order whose last value is a naive-UTC datetime (stored
    the way :class:`~promptvault.storage.tables.UTCDateTime` stores it on each database).
    The statements run on the session's own connection, inside its transaction.
    """
    if not rows:
        return
    raw: Any = session.connection().connection.driver_connection
    names = ", ".join(columns)
    if session.get_bind().dialect.name == "postgresql":
        # COPY's text format built here in one piece: several times cheaper than handing
        # psycopg one row at a time.
        data = "".join("\t".join([_copy_value(v) for v in row]) + "\n" for row in rows)
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            copy.write(data.encode())
        return
    # SQLite: SQLAlchemy's DATETIME text format, booleans as integers.
    text_rows = [(*row[:-1], row[-1].isoformat(sep=" ", timespec="microseconds")) for row in rows]
    marks = ", ".join("?" * len(columns))
    cursor = raw.cursor()
    try:
        # Table and column names are this module's constants, never input.
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
        cursor.executemany(sql, text_rows)
    finally:
        cursor.close()


def insert_units(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Insert first exposures, as tuples in :data:`UNIT_COLUMNS` order."""
    _bulk(session, ExperimentUnitRow.__tablename__, UNIT_COLUMNS, rows)


def insert_exposures(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Insert raw exposures, as tuples in :data:`EXPOSURE_COLUMNS` order."""
    _bulk(session, exposures_table.name, EXPOSURE_COLUMNS, rows)


def insert_outcomes(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Insert raw outcomes, as tuples in :data:`OUTCOME_COLUMNS` order."""
    _bulk(session, outcomes_table.name, OUTCOME_COLUMNS, rows)


def add_stats(session: Session, deltas: Mapping[StatKey, list[float]]) -> None:
    """Add ``[n, sum, sum_sq]`` to each (experiment, variant, metric, day) row (upsert)."""
    if not deltas:
        return
    table = VariantStatRow.__table__
    stmt = _upsert(session, table)  # type: ignore[arg-type]
    stmt = stmt.on_conflict_do_update(
        index_elements=["experiment_id", "variant", "metric", "day"],
        set_={
            "n": table.c.n + stmt.excluded.n,
            "sum": table.c.sum + stmt.excluded.sum,
            "sum_sq": table.c.sum_sq + stmt.excluded.sum_sq,
        },
    )
    session.execute(
        stmt,
        [
            {
                "experiment_id": e,
                "variant": v,
                "metric": m,
                "day": d,
                "n": int(n),
                "sum": s,
                "sum_sq": sq,
            }
            for (e, v, m, d), (n, s, sq) in sorted(deltas.items())
        ],
    )


def add_rejections(session: Session, counts: Mapping[tuple[str, str], int]) -> None:
    """Add to the rejected-event counters per (experiment name, reason)."""
    if not counts:
        return
    table = RejectionRow.__table__
    stmt = _upsert(session, table)  # type: ignore[arg-type]
    stmt = stmt.on_conflict_do_update(
        index_elements=["experiment", "reason"],
        set_={"count": table.c.count + stmt.excluded.count},
    )
    session.execute(
        stmt,
        [{"experiment": e[:100], "reason": r, "count": c} for (e, r), c in sorted(counts.items())],
    )


# --- reading statistics ------------------------------------------------------------------


def stat_totals(
    session: Session, experiment_id: int
) -> dict[tuple[int, str], tuple[int, float, float]]:
    """``{(variant, metric): (n, sum, sum_sq)}`` summed over days."""
    t = VariantStatRow
    rows = session.execute(
        select(t.variant, t.metric, func.sum(t.n), func.sum(t.sum), func.sum(t.sum_sq))
        .where(t.experiment_id == experiment_id)
        .group_by(t.variant, t.metric)
    )
    return {(v, m): (int(n or 0), float(s or 0.0), float(sq or 0.0)) for v, m, n, s, sq in rows}


def stat_days(
    session: Session, experiment_id: int, metric: str
) -> list[tuple[str, int, int, float, float]]:
    """``(day, variant, n, sum, sum_sq)`` of one metric, by day."""
    t = VariantStatRow
    rows = session.execute(
        select(t.day, t.variant, t.n, t.sum, t.sum_sq)
        .where(t.experiment_id == experiment_id, t.metric == metric)
        .order_by(t.day, t.variant)
    )
    return [(d, v, int(n), float(s), float(sq)) for d, v, n, s, sq in rows]


def recompute_stats(
    session: Session, experiment_id: int
) -> dict[tuple[int, str], tuple[int, float, float]]:
    """The same totals as :func:`stat_totals`, recomputed from the raw events."""
    out: dict[tuple[int, str], tuple[int, float, float]] = {}
    o = outcomes_table.c
    for v, m, n, s, sq in session.execute(
        select(o.variant, o.metric, func.count(), func.sum(o.value), func.sum(o.value * o.value))
        .where(o.experiment_id == experiment_id)
        .group_by(o.variant, o.metric)
    ):
        out[(v, m)] = (int(n), float(s or 0.0), float(sq or 0.0))
    x = exposures_table.c
    for v, is_random, n in session.execute(
        select(x.variant, x.random, func.count())
        .where(x.experiment_id == experiment_id)
        .group_by(x.variant, x.random)
    ):
        key = (v, "$random" if is_random else "$exposures")
        old = out.get(key, (0, 0.0, 0.0))
        out[key] = (old[0] + int(n), 0.0, 0.0)
    u = ExperimentUnitRow
    for v, n in session.execute(
        select(u.variant, func.count()).where(u.experiment_id == experiment_id).group_by(u.variant)
    ):
        out[(v, "$units")] = (int(n), 0.0, 0.0)
    return out


PhaseUnits = list[tuple[int, int, int, int]]
PhaseOutcomes = list[tuple[int, int, int, str, int, float, float]]


def phase_stats(session: Session, experiment_id: int) -> tuple[PhaseUnits, PhaseOutcomes]:
    """Units and outcomes grouped by the units' first epoch, first variant and bucket.

    ``([(epoch, variant, bucket, units)], [(epoch, variant, bucket, metric, n, sum,
    sum_sq)])``: at most one row per bucket and phase, whatever the number of units, so a
    report can leave out the buckets a later weight change moved without reading units.
    """
    u = ExperimentUnitRow
    units = [
        (int(e), int(v), int(b or 0), int(n))
        for e, v, b, n in session.execute(
            select(u.epoch, u.variant, u.bucket, func.count())
            .where(u.experiment_id == experiment_id, u.bucket.is_not(None))
            .group_by(u.epoch, u.variant, u.bucket)
        )
    ]
    o = outcomes_table.c
    joined = outcomes_table.join(
        u.__table__,
        (u.experiment_id == o.experiment_id) & (u.unit_id == o.unit_id),
    )
    outcomes = [
        (int(e), int(v), int(b), str(m), int(n), float(s or 0.0), float(sq or 0.0))
        for e, v, b, m, n, s, sq in session.execute(
            select(
                u.epoch,
                u.variant,
                u.bucket,
                o.metric,
                func.count(),
                func.sum(o.value),
                func.sum(o.value * o.value),
            )
            .select_from(joined)
            .where(o.experiment_id == experiment_id, u.bucket.is_not(None))
            .group_by(u.epoch, u.variant, u.bucket, o.metric)
        )
    ]
    return units, outcomes


def rejections(session: Session, experiment: str) -> dict[str, int]:
    """Rejected events of one experiment name, per reason."""
    rows = session.execute(
        select(RejectionRow.reason, RejectionRow.count).where(RejectionRow.experiment == experiment)
    )
    return {reason: int(count) for reason, count in rows}
