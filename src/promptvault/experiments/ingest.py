"""Batch ingestion of exposures and outcomes, inside the caller's write transaction.

One batch costs a handful of statements whatever its size: per experiment one read of the
definition, one ``IN`` lookup of the units already exposed (chunked), bulk inserts of new
units and raw events, and one upsert of the sufficient statistics per (variant, metric,
day) touched. Raw events and statistics therefore always commit together.

Rules, each rejection counted per experiment and reason (never silently dropped):

* ``unknown_experiment`` -- no experiment has that name.
* ``not_running`` -- the experiment is still a draft (stopped and concluded experiments
  still take late events: buffers in applications drain after a stop).
* ``unknown_variant`` -- an exposure names a variant the experiment does not have.
* ``variant_mismatch`` -- an exposure names a variant the unit is not assigned to. The
  server recomputes every unit's assignment (the same pure function the SDK runs) and does
  not take the client's word for it: otherwise anyone who may send events could skew the
  split and have the sample-ratio check stop the experiment. A unit already exposed may
  also name the variant it was first counted for (a client still assigning with the
  weights before a ramp). Without a unit id nothing can be recomputed, so such exposures
  only count as ``$random``, which the split check never reads; one naming a variant at
  weight 0 is a mismatch.
* ``not_in_experiment`` -- an exposure for a unit outside the coverage.
* ``not_exposed`` -- an outcome for a unit never exposed (in this batch or before).
* ``unknown_metric`` / ``invalid_value`` -- an outcome for an undeclared metric, without a
  value, or not 0/1 on a binary metric.
* ``no_unit`` -- an outcome without a unit id.

Within a batch exposures are applied before outcomes, so a unit exposed and converting in
the same batch counts. A unit's outcomes count for the variant of its first exposure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from promptvault.experiments.models import Event, Experiment
from promptvault.storage.unit_of_work import StatKey, UnitOfWork

__all__ = ["Outcome", "ingest_events"]

Outcome = tuple[int, Counter[tuple[str, str]], Counter[str]]
"""``(accepted, rejected per (experiment, reason), accepted per experiment)``."""


def _naive_utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        return at
    return at.astimezone(UTC).replace(tzinfo=None)


def _add(stats: dict[StatKey, list[float]], key: StatKey, value: float) -> None:
    found = stats.get(key)
    if found is None:
        stats[key] = [1, value, value * value]
    else:
        found[0] += 1
        found[1] += value
        found[2] += value * value


def ingest_events(work: UnitOfWork, events: Sequence[Event], *, now: datetime) -> Outcome:
    """Apply ``events`` in ``work``'s transaction; see the module docstring for the rules."""
    by_experiment: dict[str, list[Event]] = {}
    for event in events:
        by_experiment.setdefault(event.experiment, []).append(event)
    rejected: Counter[tuple[str, str]] = Counter()
    accepted: Counter[str] = Counter()
    stats: dict[StatKey, list[float]] = {}
    exposures: list[tuple[Any, ...]] = []
    outcomes: list[tuple[Any, ...]] = []
    units: list[tuple[Any, ...]] = []
    for name, batch in by_experiment.items():
        data = work.experiments.load(name)
        if data is None:
            rejected[(name, "unknown_experiment")] += len(batch)
            continue
        exp_id = int(data.pop("id"))
        exp = Experiment.model_validate(data)
        if exp.status == "draft":
            rejected[(name, "not_running")] += len(batch)
            continue
        done = _apply(
            work,
            exp_id,
            exp,
            batch,
            now=now,
            stats=stats,
            exposures=exposures,
            outcomes=outcomes,
            units=units,
            rejected=rejected,
        )
        accepted[name] += done
    work.experiments.insert_units(units)
    work.experiments.insert_exposures(exposures)
    work.experiments.insert_outcomes(outcomes)
    work.experiments.add_stats(stats)
    work.experiments.add_rejections(rejected)
    return sum(accepted.values()), rejected, accepted


def _apply(
    work: UnitOfWork,
    exp_id: int,
    exp: Experiment,
    batch: list[Event],
    *,
    now: datetime,
    stats: dict[StatKey, list[float]],
    exposures: list[tuple[Any, ...]],
    outcomes: list[tuple[Any, ...]],
    units: list[tuple[Any, ...]],
    rejected: Counter[tuple[str, str]],
) -> int:
    name = exp.name
    positions = {v.name: i for i, v in enumerate(exp.variants)}
    names = [v.name for v in exp.variants]
    drawable = [v.name for v in exp.variants if v.weight > 0]
    kinds = {m.name: m.kind for m in exp.all_metrics()}
    assigner = exp.assigner()
    unit_ids = {e.unit_id for e in batch if e.unit_id is not None}
    known = work.experiments.known_units(exp_id, unit_ids) if unit_ids else {}
    epoch_metric = f"$units@{exp.epoch}"
    now = _naive_utc(now)
    days: dict[Any, str] = {}
    done = 0
    for e in batch:
        if e.type != "exposure":
            continue
        unit = e.unit_id
        claimed = e.variant
        if claimed is not None and claimed not in positions:
            rejected[(name, "unknown_variant")] += 1
            continue
        if unit is None:
            if claimed is not None and claimed not in drawable:
                rejected[(name, "variant_mismatch")] += 1
                continue
            # Drawn with the weights, as vault.get and the SDK draw unit-less requests.
            variant: str | None = claimed or assigner.draw()
        else:
            variant = assigner.variant(unit)
            if claimed is not None and claimed != variant:
                first = known.get(unit)
                if first is None or names[first] != claimed:
                    rejected[(name, "variant_mismatch")] += 1
                    continue
                variant = claimed
        if variant is None:
            rejected[(name, "not_in_experiment")] += 1
            continue
        pos = positions[variant]
        at = now if e.at is None else _naive_utc(e.at)
        date = at.date()
        day = days.get(date)
        if day is None:
            day = days[date] = date.isoformat()
        exposures.append((exp_id, pos, unit, unit is None, at))
        _add(stats, (exp_id, pos, "$random" if unit is None else "$exposures", day), 0.0)
        if unit is not None and unit not in known:
            known[unit] = pos
            units.append((exp_id, unit, pos, exp.epoch, assigner.bucket(unit), at))
            _add(stats, (exp_id, pos, "$units", day), 0.0)
            _add(stats, (exp_id, pos, epoch_metric, day), 0.0)
        done += 1
    for e in batch:
        if e.type != "outcome":
            continue
        reason = _outcome_problem(e, kinds)
        if reason is not None:
            rejected[(name, reason)] += 1
            continue
        assert e.unit_id is not None and e.metric is not None and e.value is not None
        first = known.get(e.unit_id)
        if first is None:
            rejected[(name, "not_exposed")] += 1
            continue
        at = now if e.at is None else _naive_utc(e.at)
        date = at.date()
        day = days.get(date)
        if day is None:
            day = days[date] = date.isoformat()
        value = float(e.value)
        outcomes.append((exp_id, first, e.unit_id, e.metric, value, at))
        _add(stats, (exp_id, first, e.metric, day), value)
        done += 1
    return done


def _outcome_problem(e: Event, kinds: Mapping[str, str]) -> str | None:
    if e.unit_id is None:
        return "no_unit"
    kind = kinds.get(e.metric or "")
    if kind is None:
        return "unknown_metric"
    if e.value is None or (kind == "binary" and e.value not in (0.0, 1.0)):
        return "invalid_value"
    return None
