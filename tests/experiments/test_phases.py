"""Ramps: the by-phase analysis keeps a lift measured across a weight change unbiased."""

from __future__ import annotations

from typing import Any

import numpy as np

from promptvault import Vault
from promptvault.experiments.assignment import BUCKETS, Assigner, layout
from promptvault.experiments.phases import kept_variant, stratified

from .conftest import make

SEEDS = 200
LIFT = 0.02


def _simulate(
    rng: np.random.Generator, units: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """200 experiments at once: 90/10 for ``units`` units, then 50/50 for as many more.

    The base rate drifts from 10% to 14% between the phases (so pooling phases with
    different splits is confounded), half the first phase's units come back after the ramp
    and are served whatever their bucket has then, and a unit converts at base + 2 pp when
    the last variant it was served is the treatment.
    """
    history = [[90.0, 10.0], [50.0, 50.0]]
    tables = np.array([layout(w) for w in history])
    shape = (SEEDS, units)
    b0, b1 = rng.integers(0, BUCKETS, shape), rng.integers(0, BUCKETS, shape)
    first0, first1 = tables[0][b0], tables[1][b1]
    returns = rng.random(shape) < 0.5
    last0 = np.where(returns, tables[1][b0], first0)
    y0 = rng.random(shape) < 0.10 + LIFT * last0
    y1 = rng.random(shape) < 0.14 + LIFT * first1
    kept = kept_variant(history)
    keep0, keep1 = kept[0][b0] == first0, kept[1][b1] == first1
    data = {"first0": first0, "first1": first1, "y0": y0, "y1": y1}
    return data, keep0, keep1


def _arm(first: np.ndarray, y: np.ndarray, keep: np.ndarray, variant: int) -> np.ndarray:
    mask = keep & (first == variant)
    n = mask.sum(axis=1)
    s = (y & mask).sum(axis=1)
    return np.stack([n, s, s]).astype(np.float64)  # binary: sum_sq == sum


def test_lift_across_a_ramp_is_unbiased_and_covered() -> None:
    data, keep0, keep1 = _simulate(np.random.default_rng(20261204), 10_000)
    c = [_arm(data["first0"], data["y0"], keep0, 0), _arm(data["first1"], data["y1"], keep1, 0)]
    t = [_arm(data["first0"], data["y0"], keep0, 1), _arm(data["first1"], data["y1"], keep1, 1)]
    control = tuple(np.stack([c[0][i], c[1][i]], axis=-1) for i in range(3))
    treated = tuple(np.stack([t[0][i], t[1][i]], axis=-1) for i in range(3))
    diff, var = stratified(control, treated, binary=True)  # type: ignore[arg-type]
    se_of_mean = diff.std(ddof=1) / np.sqrt(SEEDS)
    assert abs(diff.mean() - LIFT) <= se_of_mean
    half = 1.959964 * np.sqrt(var)
    coverage = np.mean((diff - half <= LIFT) & (diff + half >= LIFT))
    # 95% nominal; 200 seeds give a binomial standard error of 1.5 pp.
    assert 0.92 <= coverage <= 0.98
    # Units whose bucket the ramp moved are left out: 40 of the first phase's 90 control.
    assert abs(keep0.mean() - 0.6) < 0.01
    assert keep1.all()

    # The rule matters: counting every unit for its first variant and pooling the phases
    # (what reports did before) is off by many standard errors.
    first = np.concatenate([data["first0"], data["first1"]], axis=1)
    y = np.concatenate([data["y0"], data["y1"]], axis=1)
    rate = [(y & (first == v)).sum(axis=1) / (first == v).sum(axis=1) for v in (0, 1)]
    pooled = rate[1] - rate[0]
    assert abs(pooled.mean() - LIFT) > 5 * pooled.std(ddof=1) / np.sqrt(SEEDS)


def test_kept_buckets_follow_the_layout() -> None:
    kept = kept_variant([[90, 10], [50, 50], [50, 50]])
    assert kept.shape == (3, BUCKETS)
    # The treatment grew from the top end: its first-phase units all stay.
    assert (kept[0] == 1).sum() == 1000
    assert (kept[0] == -1).sum() == 4000
    assert (kept[1] == layout([50, 50])).all()


def _exposure(unit: str) -> dict[str, Any]:
    return {"type": "exposure", "experiment": "tone", "unit_id": unit}


def _outcome(unit: str, value: bool) -> dict[str, Any]:
    return {"type": "outcome", "experiment": "tone", "unit_id": unit, "metric": "resolved",
            "value": value}  # fmt: skip


def test_report_after_a_ramp_compares_phases_and_leaves_moved_units_out(vault: Vault) -> None:
    exp = make(vault, weights=(90, 10))
    assigner = Assigner(exp.seed, ["control", "friendly"], [90, 10])
    first = [f"a{i}" for i in range(600)]
    vault.experiments.ingest(
        [_exposure(u) for u in first] + [_outcome(u, i % 3 == 0) for i, u in enumerate(first)]
    )
    vault.experiments.ramp("tone", {"control": 50, "friendly": 50}, actor="alice")
    second = [f"b{i}" for i in range(600)]
    vault.experiments.ingest(
        [_exposure(u) for u in second + first]
        + [_outcome(u, i % 2 == 0) for i, u in enumerate(second)]
    )
    after = Assigner(exp.seed, ["control", "friendly"], [50, 50])
    moved = [u for u in first if assigner.variant(u) != after.variant(u)]
    assert moved and all(assigner.variant(u) == "control" for u in moved)

    report = vault.experiments.report("tone", mode="fixed")
    analysis = report.analysis
    assert analysis["method"] == "stratified by phase"
    (resolved,) = [m for m in analysis["metrics"] if m["name"] == "resolved"]
    assert resolved["comparisons"][0]["diff"] is not None
    phases = analysis["phases"]
    assert [p["epoch"] for p in phases] == [0, 1]
    kept_first = sum(phases[0]["units"].values())
    assert kept_first == len(first) - len(moved)
    assert sum(phases[1]["units"].values()) == len(second)
    assert any(f"{len(moved)} left out" in note for note in analysis["notes"])
    # Counted outcomes: only the units kept (moved units' outcomes are left out too).
    counted = sum(v["n"] for v in resolved["variants"])
    assert counted == len(first) - len(moved) + len(second)
    # Units still count for their first variant in the totals.
    assert report.units == {
        "control": sum(assigner.variant(u) == "control" for u in first)
        + sum(after.variant(u) == "control" for u in second),
        "friendly": sum(assigner.variant(u) == "friendly" for u in first)
        + sum(after.variant(u) == "friendly" for u in second),
    }


def test_report_without_a_ramp_stays_pooled(vault: Vault) -> None:
    make(vault)
    vault.experiments.ingest(
        [{"type": "exposure", "experiment": "tone", "unit_id": f"u{i}"} for i in range(50)]
    )
    assert vault.experiments.report("tone").analysis["method"] == "pooled"
