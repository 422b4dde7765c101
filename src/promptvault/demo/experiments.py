"""The demo experiment: ``customer_support`` v1 against v2 at 90/10, with a week of outcomes.

The week is consistent with the clock: the experiment's start is backdated to when its
simulated traffic begins (UTC midnight six days ago, so a daily chart shows seven dates),
and no event is dated after the moment the demo is loaded.

:func:`load_experiment_demo` takes anything with an ``experiments`` attribute offering
``get``, ``create``, ``start`` and ``ingest`` (a :class:`~promptvault.Vault` or the SDK
client), so the CLI and the server load the same demo without this package importing
either. The outcomes are simulated with a fixed seed: the friendlier v2 resolves a few more
tickets, escalates slightly less and is rated a little higher, so ``promptvault experiment
report support-tone`` has something real to show, and the split matches its 90/10 weights.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from promptvault.errors import ExperimentNotFound, NotFoundError
from promptvault.experiments.assignment import Assigner

__all__ = ["DEMO_EXPERIMENT", "load_experiment_demo", "window"]

DEMO_EXPERIMENT = "support-tone"
PROMPT = "customer_support"

# Per variant: chance a ticket is resolved, chance it is escalated, mean rating (sd 0.9).
_TRUTH = {
    "control": (0.62, 0.09, 3.9),
    "friendly": (0.69, 0.07, 4.15),
}


def window(days: int, end: datetime) -> datetime:
    """When the simulated traffic starts: UTC midnight ``days - 1`` days before ``end``, so
    the daily chart shows exactly ``days`` dates, the last one today."""
    today = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days - 1)


def _events(units: int, start: datetime, seed: int, end: datetime) -> list[dict[str, Any]]:
    """Exposures between ``start`` and ``end``, each unit's outcomes after its exposure and
    never after ``end`` (nothing is dated in the future)."""
    rng = random.Random(seed)
    assigner = Assigner(DEMO_EXPERIMENT, ["control", "friendly"], [90, 10])
    span = (end - start).total_seconds()
    events: list[dict[str, Any]] = []
    for i in range(units):
        unit = f"demo-user-{i:05d}"
        variant = assigner.variant(unit)
        assert variant is not None
        resolved, escalated, rating = _TRUTH[variant]
        at = start + timedelta(seconds=rng.uniform(0, span))
        events.append(
            {"type": "exposure", "experiment": DEMO_EXPERIMENT, "unit_id": unit,
             "variant": variant, "at": at}
        )  # fmt: skip
        later = min(end, at + timedelta(minutes=rng.uniform(1, 90)))
        for metric, value in (
            ("resolved", int(rng.random() < resolved)),
            ("escalated", int(rng.random() < escalated)),
            ("rating", round(min(5.0, max(1.0, rng.gauss(rating, 0.9))), 2)),
        ):
            events.append(
                {"type": "outcome", "experiment": DEMO_EXPERIMENT, "unit_id": unit,
                 "metric": metric, "value": value, "at": later}
            )  # fmt: skip
    return events


def load_experiment_demo(
    target: Any,
    *,
    actor: str = "demo",
    units: int = 4000,
    days: int = 7,
    seed: int = 7,
    now: datetime | None = None,
) -> str:
    """Create, start and fill the demo experiment; returns what happened.

    Needs the demo prompts (``customer_support`` v1 and v2). An existing ``support-tone``
    experiment is left alone, so running it twice changes nothing.

    The message names the experiment's state: the CLI lists it next to the demo prompts.
    """
    experiments = target.experiments
    try:
        experiments.get(DEMO_EXPERIMENT)
    except ExperimentNotFound:
        pass
    else:
        return "experiment exists, left as it is"
    try:
        experiments.create(
            DEMO_EXPERIMENT,
            prompt=PROMPT,
            variants=[
                {"name": "control", "version": 1, "weight": 90},
                {"name": "friendly", "version": 2, "weight": 10},
            ],
            primary_metric={"name": "resolved", "kind": "binary"},
            guardrails=[
                {"name": "escalated", "kind": "binary", "direction": "lower", "tolerance": 0.05}
            ],
            metrics=[{"name": "rating", "kind": "continuous"}],
            description="Does the friendlier, shorter v2 resolve more tickets?",
            actor=actor,
        )
    except NotFoundError:
        return "experiment skipped: load the demo prompts first"
    end = now or datetime.now(UTC)
    start = window(days, end)
    # Started when its simulated traffic began, so "started" and the events agree.
    experiments.start(DEMO_EXPERIMENT, actor=actor, at=start)
    events = _events(units, start, seed, end)
    for first in range(0, len(events), 5000):
        experiments.ingest(events[first : first + 5000], key=f"demo-{seed}-{first}")
    return f"experiment running at 90/10, {units} simulated users over {days} days"
