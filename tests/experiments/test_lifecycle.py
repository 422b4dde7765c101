"""Experiment definitions and lifecycle on a real database: states, rules, audit, conclusion."""

from __future__ import annotations

import pytest

from promptvault import Vault
from promptvault.errors import (
    ConflictError,
    ExperimentNotFound,
    ExperimentStateError,
    InvalidInputError,
    PromptNotFound,
    VersionNotFound,
)

from .conftest import PROMPT, make


def test_create_resolves_labels_and_audits(vault: Vault) -> None:
    exp = make(vault, start=False, coverage=0.5, unit_type="session")
    assert exp.status == "draft"
    assert [(v.name, v.version, v.weight) for v in exp.variants] == [
        ("control", 1, 50.0),
        ("friendly", 2, 50.0),
    ]
    assert exp.seed == "tone" and exp.coverage == 0.5 and exp.unit_type == "session"
    assert exp.created_by == "alice" and exp.label == "production"
    entry = vault.audit.entries(action="experiment.create")[-1]
    assert entry.target == "experiment:tone" and entry.actor == "alice"
    assert entry.details["variants"][1]["version"] == 2
    assert vault.experiments.get("tone") == exp
    assert [e.name for e in vault.experiments.list(prompt=PROMPT)] == ["tone"]


def test_full_lifecycle_is_audited(vault: Vault) -> None:
    make(vault, start=False)
    running = vault.experiments.start("tone", actor="alice")
    assert running.status == "running" and running.started_at is not None
    ramped = vault.experiments.ramp("tone", {"friendly": 70, "control": 30}, actor="bob")
    assert [v.weight for v in ramped.variants] == [30.0, 70.0]
    assert ramped.epoch == 1
    stopped = vault.experiments.stop("tone", actor="bob", reason="holiday traffic")
    assert stopped.status == "stopped" and stopped.decision == {
        "action": "stop",
        "auto": False,
        "reason": "holiday traffic",
    }
    vault.experiments.start("tone", actor="bob")
    done = vault.experiments.conclude("tone", "friendly", actor="carol")
    assert done.status == "concluded"
    assert done.decision == {
        "action": "conclude",
        "winner": "friendly",
        "version": 2,
        "label": "production",
    }
    actions = [e.action for e in vault.audit.entries(target="experiment:tone")]
    assert actions == [
        "experiment.create",
        "experiment.start",
        "experiment.ramp",
        "experiment.stop",
        "experiment.start",
        "experiment.conclude",
    ]
    assert vault.audit.verify().ok


def test_conclude_moves_production_to_the_winner(vault: Vault) -> None:
    make(vault)
    assert vault.get(PROMPT).version == 1
    vault.experiments.conclude("tone", "friendly", actor="carol")
    assert vault.get(PROMPT).version == 2
    move = vault.label_history(PROMPT, "production")[0]
    assert (move.from_version, move.to_version, move.actor) == (1, 2, "carol")
    # No longer routing: a unit gets the label's version, without experiment fields.
    routed = vault.get(PROMPT, unit_id="u1")
    assert routed.experiment is None and routed.version == 2


def test_state_rules(vault: Vault) -> None:
    make(vault, start=False)
    with pytest.raises(ExperimentStateError) as err:
        vault.experiments.stop("tone")
    assert err.value.details["status"] == "draft"
    with pytest.raises(ExperimentStateError):
        vault.experiments.conclude("tone", "friendly")
    vault.experiments.start("tone")
    with pytest.raises(ExperimentStateError):
        vault.experiments.start("tone")
    vault.experiments.conclude("tone", "control")
    for action in (vault.experiments.start, vault.experiments.stop):
        with pytest.raises(ExperimentStateError):
            action("tone")
    with pytest.raises(ExperimentStateError):
        vault.experiments.ramp("tone", [50, 50])


def test_one_running_experiment_per_prompt_and_label(vault: Vault) -> None:
    make(vault, "first")
    make(vault, "second", start=False)
    with pytest.raises(ExperimentStateError) as err:
        vault.experiments.start("second")
    assert err.value.details["running"] == "first"
    # Another label of the same prompt is a different slot.
    vault.experiments.create(
        "on-staging",
        prompt=PROMPT,
        label="staging",
        variants=[{"name": "control", "version": 2}, {"name": "older", "version": 1}],
        primary_metric={"name": "resolved"},
        start=True,
    )
    vault.experiments.stop("first")
    assert vault.experiments.start("second").status == "running"
    running = {e.name for e in vault.experiments.list(status="running")}
    assert running == {"second", "on-staging"}


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"name": "Bad Name"}, InvalidInputError, "name"),
        ({"prompt": "nope"}, PromptNotFound, "prompt"),
        ({"label": "latest"}, InvalidInputError, "label"),
        ({"coverage": 0}, InvalidInputError, "coverage"),
        ({"unit_type": "device"}, InvalidInputError, "unit_type"),
        ({"variants": [{"name": "a", "version": 1}]}, InvalidInputError, "variants"),
        (
            {"variants": [{"name": "a", "version": 1}, {"name": "b", "version": 9}]},
            VersionNotFound,
            "variants[1].version",
        ),
        (
            {"variants": [{"name": "a", "version": 1}, {"name": "b", "version": "canary"}]},
            VersionNotFound,
            "variants[1].version",
        ),
        (
            {"variants": [{"name": "a", "version": 1, "weight": -1}, {"name": "b", "version": 2}]},
            InvalidInputError,
            "variants[0].weight",
        ),
        (
            {"primary_metric": {"name": "x", "kind": "ordinal"}},
            InvalidInputError,
            "primary_metric.kind",
        ),
        (
            {"guardrails": [{"name": "resolved", "kind": "binary"}]},
            InvalidInputError,
            "metrics",
        ),
    ],
)
def test_bad_definitions_name_the_field(
    vault: Vault, change: dict[str, object], error: type[Exception], field: str
) -> None:
    spec: dict[str, object] = {
        "name": "exp",
        "prompt": PROMPT,
        "variants": [{"name": "a", "version": 1}, {"name": "b", "version": 2}],
        "primary_metric": {"name": "resolved"},
        **change,
    }
    name = spec.pop("name")
    with pytest.raises(error) as err:
        vault.experiments.create(name, **spec)  # type: ignore[arg-type]
    assert err.value.details["field"] == field  # type: ignore[attr-defined]
    assert vault.experiments.list() == []


def test_duplicate_and_missing_names(vault: Vault) -> None:
    make(vault, start=False)
    with pytest.raises(ConflictError):
        make(vault, start=False)
    with pytest.raises(ExperimentNotFound):
        vault.experiments.get("nope")
    with pytest.raises(ExperimentNotFound):
        vault.experiments.start("nope")
