"""Automatic stops: a significantly worse guardrail or a broken split stops the experiment."""

from __future__ import annotations

import random

from promptvault import Vault
from promptvault.experiments.assignment import Assigner
from promptvault.experiments.service import GUARDRAIL_ACTOR

from .conftest import PROMPT, make


def _traffic(
    vault: Vault,
    *,
    units: int,
    rates: dict[str, float],
    weights: tuple[float, float] = (50, 50),
    seed: int = 1,
) -> None:
    rng = random.Random(seed)
    assigner = Assigner("tone", ["control", "friendly"], list(weights))
    events: list[dict[str, object]] = []
    for i in range(units):
        unit = f"u{seed}-{i}"
        variant = assigner.variant(unit)
        events.append(
            {"type": "exposure", "experiment": "tone", "unit_id": unit, "variant": variant}
        )
        events.append(
            {
                "type": "outcome",
                "experiment": "tone",
                "unit_id": unit,
                "metric": "escalated",
                "value": int(rng.random() < rates[str(variant)]),
            }
        )
    vault.experiments.ingest(events)


GUARD = [{"name": "escalated", "kind": "binary", "direction": "lower", "tolerance": 0.02}]


def test_worse_guardrail_stops_and_points_back_to_control(vault: Vault) -> None:
    vault.experiments.check_every = 10**9  # only the explicit check below
    make(vault, guardrails=GUARD)
    _traffic(vault, units=1500, rates={"control": 0.05, "friendly": 0.30})
    result = vault.experiments.check("tone")
    assert result.stopped and result.status == "stopped"
    assert any("guardrail escalated: friendly is worse" in r for r in result.reasons)
    exp = vault.experiments.get("tone")
    assert exp.decision is not None and exp.decision["auto"] is True
    entry = vault.audit.entries(action="experiment.auto_stop")[-1]
    assert entry.actor == GUARDRAIL_ACTOR
    assert entry.details["details"][0]["metric"] == "escalated"
    # Traffic is back on what the label served: no routing, and the label never moved.
    assert vault.get(PROMPT, unit_id="u1").experiment is None
    assert vault.get(PROMPT).version == 1
    assert [e.to_version for e in vault.label_history(PROMPT, "production")] == [1]
    assert vault.audit.verify().ok


def test_guardrail_within_tolerance_keeps_running(vault: Vault) -> None:
    make(vault, guardrails=GUARD)
    _traffic(vault, units=1500, rates={"control": 0.05, "friendly": 0.05})
    result = vault.experiments.check("tone")
    assert not result.stopped and result.status == "running" and result.reasons == ()
    assert result.units == 1500 and result.srm_p_value is not None


def test_sample_ratio_mismatch_stops(vault: Vault) -> None:
    vault.experiments.check_every = 10**9
    exp = make(vault, weights=(50, 50))
    # An application that loses most of one arm's exposures: a broken split.
    assigned = {f"u{i}": exp.assigner().variant(f"u{i}") for i in range(1400)}
    events = [
        {"type": "exposure", "experiment": "tone", "unit_id": unit, "variant": variant}
        for i, (unit, variant) in enumerate(assigned.items())
        if variant == "control" or i % 5 < 2
    ]
    vault.experiments.ingest(events)
    result = vault.experiments.check("tone")
    assert result.stopped and result.srm_p_value is not None and result.srm_p_value < 0.001
    assert result.reasons[0].startswith("sample ratio mismatch")
    assert vault.experiments.get("tone").status == "stopped"


def test_ramp_starts_a_new_split_epoch(vault: Vault) -> None:
    make(vault, weights=(90, 10))
    _traffic(vault, units=800, rates={"control": 0.1, "friendly": 0.1}, weights=(90, 10))
    vault.experiments.ramp("tone", {"control": 50, "friendly": 50})
    _traffic(vault, units=800, rates={"control": 0.1, "friendly": 0.1}, weights=(50, 50), seed=2)
    # Cumulative units are far from 50/50, but the check compares the current epoch only.
    result = vault.experiments.check("tone")
    assert not result.stopped and result.units == 800


def test_checks_run_on_ingestion(vault: Vault) -> None:
    vault.experiments.check_every = 500
    make(vault, guardrails=GUARD)
    _traffic(vault, units=1500, rates={"control": 0.05, "friendly": 0.40})
    exp = vault.experiments.get("tone")
    assert exp.status == "stopped" and exp.decision is not None and exp.decision["auto"]


def test_check_on_a_stopped_experiment_does_nothing(vault: Vault) -> None:
    make(vault)
    vault.experiments.stop("tone")
    result = vault.experiments.check("tone")
    assert (result.stopped, result.status) == (False, "stopped")
    assert vault.experiments.check_all() == []
