"""Bandits: Thompson sampling moves traffic, and the by-phase report keeps its error rate."""

from __future__ import annotations

import numpy as np
import pytest

from promptvault import Vault
from promptvault.errors import ExperimentStateError, InvalidInputError
from promptvault.experiments.bandit import binary_best_probabilities, regret, thompson_weights
from promptvault.experiments.phases import stratified_test
from promptvault.experiments.stats import Summary

from .conftest import PROMPT, make

ALPHA = 0.05


def test_a_equals_a_stays_below_alpha_while_the_bandit_moves_traffic() -> None:
    """200 A = A experiments (10% both), reallocated after each of 10 phases of 1,000
    units; the always-valid by-phase test is read after every phase."""
    rng = np.random.default_rng(18)
    seeds, phases, per_phase, floor = 200, 10, 1000, 0.05
    weights = np.full((seeds, 2), 0.5)
    trials = np.zeros((seeds, phases, 2))
    wins = np.zeros((seeds, phases, 2))
    moved = np.zeros(seeds)
    for e in range(phases):
        treated = rng.binomial(per_phase, weights[:, 1])
        trials[:, e] = np.stack([per_phase - treated, treated], axis=-1)
        wins[:, e] = rng.binomial(trials[:, e].astype(np.int64), 0.10)
        best = binary_best_probabilities(
            wins[:, : e + 1].sum(axis=1), trials[:, : e + 1].sum(axis=1), draws=2000, rng=rng
        )
        weights = floor + (1 - 2 * floor) * best
        moved = np.maximum(moved, np.abs(weights[:, 1] - 0.5))
    false_positives = 0
    for s in range(seeds):
        previous: float | None = None
        for e in range(1, phases + 1):
            rows = [
                [Summary(int(n), float(k), float(k)) for n, k in zip(tn, wn, strict=True)]
                for tn, wn in zip(trials[s, :e], wins[s, :e], strict=True)
            ]
            test = stratified_test(
                "binary",
                [r[0] for r in rows],
                [r[1] for r in rows],
                mode="sequential",
                alpha=ALPHA,
                previous_p=previous,
            )
            previous = test.p_value
        if previous is not None and previous < ALPHA:
            false_positives += 1
    assert false_positives / seeds <= ALPHA
    assert np.mean(moved) > 0.2  # the bandit did move traffic (often to the floor)


def test_thompson_weights_favour_the_better_arm_and_keep_the_floor() -> None:
    rng = np.random.default_rng(1)
    arms = [Summary(2000, 200, 200), Summary(2000, 260, 260), Summary(2000, 190, 190)]
    w = thompson_weights("binary", arms, floor=0.05, rng=rng)
    assert w[1] > 0.85 and min(w) >= 0.05 and abs(sum(w) - 1) < 1e-3
    lower = thompson_weights("binary", arms, floor=0.05, rng=rng, lower=True)
    assert lower[1] == pytest.approx(0.05, abs=0.001)
    cont = [Summary.of([3.0, 3.2, 2.9, 3.1] * 50), Summary.of([3.6, 3.8, 3.5, 3.7] * 50)]
    assert thompson_weights("continuous", cont, floor=0.1, rng=rng)[1] == pytest.approx(0.9)
    with pytest.raises(InvalidInputError):
        thompson_weights("binary", arms, floor=0.4, rng=rng)
    saved = regret([100, 800, 100], [0.10, 0.13, 0.11])
    assert saved["bandit"] == pytest.approx(5.0) and saved["saved"] > 0


def _outcome(unit: str, value: bool) -> dict[str, object]:
    return {"type": "outcome", "experiment": "bandit", "unit_id": unit, "metric": "resolved",
            "value": value}  # fmt: skip


def test_reallocate_stores_audits_and_reports_weights_over_time(vault: Vault) -> None:
    make(vault, "fixed-one")
    with pytest.raises(ExperimentStateError):
        vault.experiments.reallocate("fixed-one")
    vault.experiments.stop("fixed-one")
    make(vault, "bandit", allocation="bandit", floor=0.05)
    units = [f"u{i}" for i in range(400)]
    vault.experiments.ingest(
        [{"type": "exposure", "experiment": "bandit", "unit_id": u} for u in units]
    )
    exp = vault.experiments.get("bandit")
    friendly = [u for u in units if exp.assigner().variant(u) == "friendly"]
    vault.experiments.ingest([_outcome(u, u in friendly) for u in units])
    after = vault.experiments.reallocate("bandit", actor="ops")
    weights = {v.name: v.weight for v in after.variants}
    assert weights["friendly"] == 0.95 and weights["control"] == 0.05
    assert after.epoch == 1
    phases = vault.experiments.phases("bandit")
    assert [(p["epoch"], p["reason"]) for p in phases] == [(0, "create"), (1, "bandit")]
    assert phases[1]["weights"] == weights
    (entry,) = vault.audit.entries(action="experiment.reallocate")
    assert entry.actor == "ops" and entry.details["to"] == weights
    report = vault.experiments.report("bandit")
    allocation = report.analysis["allocation"]
    assert [w["epoch"] for w in allocation["weights"]] == [0, 1]
    assert allocation["regret"]["bandit"] > 0
    assert report.analysis["method"] == "stratified by phase"
    assert vault.experiments.reallocate_all() and vault.experiments.get("bandit").epoch >= 1


def test_the_server_reallocates_running_bandits_on_its_schedule(sqlite_url: str) -> None:
    from starlette.testclient import TestClient

    from promptvault.config import Settings
    from promptvault.server.app import create_app
    from waiting import wait_until

    with Vault(Settings(database_url=sqlite_url, bandit_interval=0.05)) as vault:
        vault.push(PROMPT, template="a", author="setup")
        vault.push(PROMPT, template="b", author="setup", labels=["staging"])
        make(vault, "bandit", allocation="bandit")
        units = [f"u{i}" for i in range(200)]
        exp = vault.experiments.get("bandit")
        vault.experiments.ingest(
            [{"type": "exposure", "experiment": "bandit", "unit_id": u} for u in units]
            + [_outcome(u, exp.assigner().variant(u) == "control") for u in units]
        )
        with TestClient(create_app(vault)):
            wait_until(lambda: vault.experiments.get("bandit").epoch >= 1, what="a reallocation")
        assert vault.experiments.get("bandit").variants[0].weight == 0.95
