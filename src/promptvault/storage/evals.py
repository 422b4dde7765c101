"""Repositories for evaluations: datasets and their versioned cases, providers, runs,
per-case results, the response cache and eval gates.

Functions take a session and return plain dicts (rows never leave storage; the evals
service reaches them through :class:`~promptvault.storage.unit_of_work.EvalRepository`).
A case row is never changed in place: an edit closes it at the new dataset version
(``removed_in``) and inserts its successor, so any past version can be read back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from promptvault.storage.tables import (
    EvalCacheRow,
    EvalCaseRow,
    EvalDatasetRow,
    EvalGateRow,
    EvalProviderRow,
    EvalResultRow,
    EvalRunRow,
)

__all__ = [
    "cache_get",
    "cache_put",
    "case_live",
    "cases_at",
    "close_cases",
    "dataset_get",
    "dataset_insert",
    "dataset_list",
    "dataset_update",
    "gate_delete",
    "gate_get",
    "gate_list",
    "gate_put",
    "insert_cases",
    "provider_delete",
    "provider_get",
    "provider_list",
    "provider_put",
    "result_keys",
    "results_of",
    "run_get",
    "run_insert",
    "run_claim",
    "run_list",
    "run_renew",
    "run_update",
    "save_results",
]

_IN_CHUNK = 500  # ids per IN (...) list: well inside every database's parameter limit


def _fields(row: Any, names: Iterable[str]) -> dict[str, Any]:
    return {n: getattr(row, n) for n in names}


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


# --- datasets and cases ----------------------------------------------------------------

_DATASET = (
    "id",
    "name",
    "description",
    "version",
    "evaluators",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
)


def _live_at(version: int) -> Any:
    return (EvalCaseRow.added_in <= version) & or_(
        EvalCaseRow.removed_in.is_(None), EvalCaseRow.removed_in > version
    )


def dataset_get(session: Session, name: str) -> dict[str, Any] | None:
    """Dataset ``name``'s fields, or None."""
    row = session.execute(
        select(EvalDatasetRow).where(EvalDatasetRow.name == name)
    ).scalar_one_or_none()
    return None if row is None else _fields(row, _DATASET)


def dataset_list(session: Session) -> list[dict[str, Any]]:
    """Every dataset by name, with ``cases``: how many its current version holds."""
    counts = dict(
        session.execute(
            select(EvalCaseRow.dataset_id, func.count())
            .where(EvalCaseRow.removed_in.is_(None))
            .group_by(EvalCaseRow.dataset_id)
        ).all()
    )
    rows = session.execute(select(EvalDatasetRow).order_by(EvalDatasetRow.name)).scalars()
    return [{**_fields(r, _DATASET), "cases": int(counts.get(r.id, 0))} for r in rows]


def dataset_insert(session: Session, **fields: Any) -> int:
    """Insert a dataset; returns its id."""
    row = EvalDatasetRow(**fields)
    session.add(row)
    session.flush()
    return row.id


def dataset_update(session: Session, dataset_id: int, **fields: Any) -> None:
    """Set ``fields`` on one dataset."""
    session.execute(update(EvalDatasetRow).where(EvalDatasetRow.id == dataset_id).values(**fields))


def cases_at(session: Session, dataset_id: int, version: int) -> list[dict[str, Any]]:
    """The cases of a dataset as they were at ``version``, in the order they were added."""
    # Columns, not ORM rows: a run reads every case, and an identity-mapped object per
    # case costs more than the rest of reading it.
    rows = session.execute(
        select(
            EvalCaseRow.key,
            EvalCaseRow.variables,
            EvalCaseRow.expected,
            EvalCaseRow.tags,
            EvalCaseRow.meta.label("metadata"),
        )
        .where(EvalCaseRow.dataset_id == dataset_id, _live_at(version))
        .order_by(EvalCaseRow.id)
    )
    return [dict(r._mapping) for r in rows]


def case_live(session: Session, dataset_id: int, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` name a case of the dataset's current version."""
    found: set[str] = set()
    for chunk in _chunks(list(keys)):
        found.update(
            session.execute(
                select(EvalCaseRow.key).where(
                    EvalCaseRow.dataset_id == dataset_id,
                    EvalCaseRow.removed_in.is_(None),
                    EvalCaseRow.key.in_(chunk),
                )
            ).scalars()
        )
    return found


def insert_cases(
    session: Session, dataset_id: int, version: int, cases: Sequence[Mapping[str, Any]]
) -> None:
    """Add cases alive from ``version`` on."""
    if not cases:
        return
    session.execute(
        insert(EvalCaseRow.__table__),  # type: ignore[arg-type]
        [
            {
                "dataset_id": dataset_id,
                "key": c["key"],
                "variables": dict(c["variables"]),
                "expected": c.get("expected"),
                "tags": list(c.get("tags") or ()),
                "metadata": dict(c.get("metadata") or {}),
                "added_in": version,
                "removed_in": None,
            }
            for c in cases
        ],
    )


def close_cases(session: Session, dataset_id: int, keys: Sequence[str] | None, version: int) -> int:
    """End the given live cases (all of them when ``keys`` is None) at ``version``."""
    closed = 0
    where = [EvalCaseRow.dataset_id == dataset_id, EvalCaseRow.removed_in.is_(None)]
    chunks: Iterable[Sequence[str] | None] = [None] if keys is None else _chunks(list(keys))
    for chunk in chunks:
        clause = where if chunk is None else [*where, EvalCaseRow.key.in_(chunk)]
        result = session.execute(update(EvalCaseRow).where(*clause).values(removed_in=version))
        closed += int(getattr(result, "rowcount", 0) or 0)
    return closed


# --- providers -------------------------------------------------------------------------

_PROVIDER = (
    "name",
    "kind",
    "base_url",
    "secret",
    "model",
    "options",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
)


def provider_get(session: Session, name: str) -> dict[str, Any] | None:
    """Provider ``name``'s fields (``secret`` still encrypted), or None."""
    row = session.execute(
        select(EvalProviderRow).where(EvalProviderRow.name == name)
    ).scalar_one_or_none()
    return None if row is None else _fields(row, _PROVIDER)


def provider_list(session: Session) -> list[dict[str, Any]]:
    """Every stored provider by name."""
    rows = session.execute(select(EvalProviderRow).order_by(EvalProviderRow.name)).scalars()
    return [_fields(r, _PROVIDER) for r in rows]


def provider_put(session: Session, name: str, **fields: Any) -> bool:
    """Create or replace provider ``name``; True when it was new."""
    existing = session.execute(
        select(EvalProviderRow.id).where(EvalProviderRow.name == name)
    ).scalar_one_or_none()
    if existing is None:
        session.add(EvalProviderRow(name=name, **fields))
        session.flush()
        return True
    fields.pop("created_at", None)
    fields.pop("created_by", None)
    session.execute(update(EvalProviderRow).where(EvalProviderRow.id == existing).values(**fields))
    return False


def provider_delete(session: Session, name: str) -> bool:
    """Remove provider ``name``; False when there was none."""
    result = session.execute(delete(EvalProviderRow).where(EvalProviderRow.name == name))
    return bool(getattr(result, "rowcount", 0))


# --- runs and results ------------------------------------------------------------------

_RUN = (
    "id",
    "dataset_id",
    "dataset_version",
    "prompt",
    "version",
    "ref",
    "provider",
    "model",
    "evaluators",
    "status",
    "total",
    "summary",
    "created_at",
    "created_by",
    "finished_at",
    "owner",
    "lease_until",
)


def _run(row: EvalRunRow, dataset: str) -> dict[str, Any]:
    return {**_fields(row, _RUN), "dataset": dataset}


def run_insert(session: Session, **fields: Any) -> None:
    """Insert a run."""
    session.add(EvalRunRow(**fields))
    session.flush()


def run_get(session: Session, run_id: str) -> dict[str, Any] | None:
    """Run ``run_id``'s fields (``dataset`` is the dataset's name), or None."""
    found = session.execute(
        select(EvalRunRow, EvalDatasetRow.name)
        .join(EvalDatasetRow, EvalDatasetRow.id == EvalRunRow.dataset_id)
        .where(EvalRunRow.id == run_id)
    ).first()
    return None if found is None else _run(found[0], found[1])


def run_list(
    session: Session,
    *,
    dataset_id: int | None = None,
    prompt: str | None = None,
    version: int | None = None,
    dataset_version: int | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Runs newest first, filtered by whatever is given."""
    query = select(EvalRunRow, EvalDatasetRow.name).join(
        EvalDatasetRow, EvalDatasetRow.id == EvalRunRow.dataset_id
    )
    if dataset_id is not None:
        query = query.where(EvalRunRow.dataset_id == dataset_id)
    if prompt is not None:
        query = query.where(EvalRunRow.prompt == prompt)
    if version is not None:
        query = query.where(EvalRunRow.version == version)
    if dataset_version is not None:
        query = query.where(EvalRunRow.dataset_version == dataset_version)
    if status is not None:
        query = query.where(EvalRunRow.status == status)
    rows = session.execute(
        query.order_by(EvalRunRow.created_at.desc(), EvalRunRow.id.desc()).limit(limit)
    ).all()
    return [_run(row, name) for row, name in rows]


def run_update(session: Session, run_id: str, *, owner: str | None = None, **fields: Any) -> bool:
    """Set ``fields`` on one run (status, summary, finished_at); with ``owner``, only while
    ``owner`` executes it. True when the run was updated."""
    query = update(EvalRunRow).where(EvalRunRow.id == run_id)
    if owner is not None:
        query = query.where(EvalRunRow.owner == owner, EvalRunRow.status == "running")
    return bool(getattr(session.execute(query.values(**fields)), "rowcount", 0))


def run_claim(session: Session, run_id: str, *, owner: str, until: datetime, now: datetime) -> bool:
    """Make ``owner`` the run's executor (status ``running``, lease until ``until``) unless
    another process's lease on it still holds; True when claimed.

    One conditional UPDATE: on PostgreSQL its row lock orders it against the holder's
    renewals (:func:`run_renew`), so a renewal and a claim never both succeed."""
    result = session.execute(
        update(EvalRunRow)
        .where(
            EvalRunRow.id == run_id,
            or_(
                EvalRunRow.status != "running",
                EvalRunRow.lease_until.is_(None),
                EvalRunRow.lease_until <= now,
            ),
        )
        .values(owner=owner, lease_until=until, status="running", finished_at=None)
    )
    return bool(getattr(result, "rowcount", 0))


def run_renew(session: Session, run_id: str, *, owner: str, until: datetime) -> bool:
    """Extend ``owner``'s lease on a running run to ``until``; False when ``owner`` no
    longer holds it (the run was taken over, or ended)."""
    result = session.execute(
        update(EvalRunRow)
        .where(
            EvalRunRow.id == run_id,
            EvalRunRow.owner == owner,
            EvalRunRow.status == "running",
        )
        .values(lease_until=until)
    )
    return bool(getattr(result, "rowcount", 0))


_RESULT = (
    "case_key",
    "output",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost",
    "cached",
    "error",
    "scores",
    "at",
)


def results_of(session: Session, run_id: str) -> list[dict[str, Any]]:
    """Every committed result of a run."""
    columns = [getattr(EvalResultRow, n) for n in _RESULT]
    rows = session.execute(
        select(*columns).where(EvalResultRow.run_id == run_id).order_by(EvalResultRow.case_key)
    )
    return [dict(r._mapping) for r in rows]


def result_counts(session: Session, run_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Per run: how many cases have a committed result, and how many of those errored."""
    counts: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(list(run_ids)):
        rows = session.execute(
            select(
                EvalResultRow.run_id,
                func.count(),
                func.count(EvalResultRow.error),
            )
            .where(EvalResultRow.run_id.in_(chunk))
            .group_by(EvalResultRow.run_id)
        ).all()
        counts.update({run_id: (int(done), int(errors)) for run_id, done, errors in rows})
    return counts


def result_keys(session: Session, run_id: str, *, with_errors: bool) -> set[str]:
    """The case keys a run has results for (errored ones only when ``with_errors``)."""
    query = select(EvalResultRow.case_key).where(EvalResultRow.run_id == run_id)
    if not with_errors:
        query = query.where(EvalResultRow.error.is_(None))
    return set(session.execute(query).scalars())


def save_results(
    session: Session, run_id: str, results: Sequence[Mapping[str, Any]], *, replace: bool
) -> None:
    """Store results; ``replace`` first drops earlier results of the same cases (a resumed
    run retrying its errors), which a fresh run has none of."""
    if not results:
        return
    keys = [r["case_key"] for r in results] if replace else []
    for chunk in _chunks(keys):
        session.execute(
            delete(EvalResultRow).where(
                EvalResultRow.run_id == run_id, EvalResultRow.case_key.in_(chunk)
            )
        )
    session.execute(
        insert(EvalResultRow.__table__),  # type: ignore[arg-type]
        [{"run_id": run_id, **r} for r in results],
    )


# --- response cache --------------------------------------------------------------------


def cache_get(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The cached responses of those request digests that have one."""
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(list(dict.fromkeys(keys))):
        rows = session.execute(
            select(EvalCacheRow.key, EvalCacheRow.response).where(EvalCacheRow.key.in_(chunk))
        ).all()
        out.update({k: dict(v) for k, v in rows})
    return out


def cache_put(session: Session, entries: Mapping[str, Mapping[str, Any]], at: datetime) -> None:
    """Remember responses; a digest already cached keeps its first response."""
    if not entries:
        return
    table = EvalCacheRow.__table__
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
    session.execute(
        upsert(table).on_conflict_do_nothing(),  # type: ignore[arg-type]
        [{"key": k, "response": dict(v), "created_at": at} for k, v in entries.items()],
    )


# --- gates -----------------------------------------------------------------------------

_GATE = ("prompt", "label", "dataset", "thresholds", "alpha", "created_at", "created_by")


def gate_get(session: Session, prompt: str, label: str) -> dict[str, Any] | None:
    """The gate on ``prompt``'s ``label``, or None."""
    row = session.execute(
        select(EvalGateRow).where(EvalGateRow.prompt == prompt, EvalGateRow.label == label)
    ).scalar_one_or_none()
    return None if row is None else _fields(row, _GATE)


def gate_list(session: Session, prompt: str | None = None) -> list[dict[str, Any]]:
    """Every gate (of one prompt when given)."""
    query = select(EvalGateRow).order_by(EvalGateRow.prompt, EvalGateRow.label)
    if prompt is not None:
        query = query.where(EvalGateRow.prompt == prompt)
    return [_fields(r, _GATE) for r in session.execute(query).scalars()]


def gate_put(session: Session, prompt: str, label: str, **fields: Any) -> None:
    """Create or replace the gate on ``prompt``'s ``label``."""
    session.execute(
        delete(EvalGateRow).where(EvalGateRow.prompt == prompt, EvalGateRow.label == label)
    )
    session.add(EvalGateRow(prompt=prompt, label=label, **fields))
    session.flush()


def gate_delete(session: Session, prompt: str, label: str) -> bool:
    """Remove the gate on ``prompt``'s ``label``; False when there was none."""
    result = session.execute(
        delete(EvalGateRow).where(EvalGateRow.prompt == prompt, EvalGateRow.label == label)
    )
    return bool(getattr(result, "rowcount", 0))
