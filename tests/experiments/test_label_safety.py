"""An experiment borrows its label: control is what the label serves, the label does not move
under a running experiment, and an automatic stop puts back what the label held before."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from promptvault import Vault
from promptvault.errors import ConflictError, ExperimentNotFound, ExperimentStateError
from promptvault.experiments.service import GUARDRAIL_ACTOR
from promptvault.storage import repositories as repo
from promptvault.storage.tables import utcnow

from .conftest import PROMPT, make

SKEWED_GUARD = [{"name": "escalated", "kind": "binary", "direction": "lower"}]


def _definition(control: int, treatment: int, **extra: Any) -> dict[str, Any]:
    return {
        "prompt": PROMPT,
        "variants": [
            {"name": "control", "version": control, "weight": 50},
            {"name": "treatment", "version": treatment, "weight": 50},
        ],
        "primary_metric": {"name": "resolved"},
        **extra,
    }


def _move_out_of_band(vault: Vault, label: str, version: int) -> None:
    """Point a label elsewhere without the registry (as restoring an old backup would)."""

    def work(s: Session) -> None:
        prompt = repo.get_prompt(s, PROMPT)
        assert prompt is not None
        row = repo.version_row(s, prompt.id, version)
        assert row is not None
        repo.set_label_row(s, prompt.id, label, row.id, actor="restore", at=utcnow())

    vault.db.write(work)
    vault.registry.resolver.invalidate(PROMPT)


def _bad_guardrail_traffic(vault: Vault, name: str = "tone") -> None:
    """Units exposed as assigned; the treatment escalates far more often than control."""
    exp = vault.experiments.get(name)
    events: list[dict[str, Any]] = []
    for i in range(1500):
        unit = f"u{i}"
        variant = exp.assigner().variant(unit)
        events.append({"type": "exposure", "experiment": name, "unit_id": unit})
        bad = (variant != "control" and i % 10 < 4) or i % 50 == 0
        events.append(
            {
                "type": "outcome",
                "experiment": name,
                "unit_id": unit,
                "metric": "escalated",
                "value": int(bad),
            }
        )
    vault.experiments.ingest(events)


def test_control_must_be_what_the_label_serves_at_start(vault: Vault) -> None:
    # production serves v1; a control of v2 would make "back to control" a label move to v2.
    vault.experiments.create("takeover", **_definition(2, 1), actor="mallory")
    with pytest.raises(ExperimentStateError) as err:
        vault.experiments.start("takeover", actor="mallory")
    assert err.value.details["field"] == "variants[0].version"
    assert err.value.details["label_version"] == 1 and err.value.details["control"] == 2
    assert vault.experiments.get("takeover").status == "draft"
    assert vault.get(PROMPT, unit_id="u1").version == 1


def test_start_refuses_a_label_that_points_nowhere(vault: Vault) -> None:
    vault.experiments.create("canary", **_definition(1, 2, label="canary"))
    with pytest.raises(ExperimentStateError) as err:
        vault.experiments.start("canary")
    assert err.value.details["field"] == "label"


def test_start_remembers_the_label_version_and_who_started(vault: Vault) -> None:
    exp = make(vault)
    assert exp.label_version == 1 and exp.started_by == "alice"
    entry = vault.audit.entries(action="experiment.start")[-1]
    assert entry.actor == "alice"
    assert entry.details == {"label": "production", "label_version": 1}


def test_auto_stop_restores_the_label_on_behalf_of_the_starter(vault: Vault) -> None:
    vault.experiments.check_every = 10**9
    make(vault, guardrails=SKEWED_GUARD)
    _move_out_of_band(vault, "production", 2)
    _bad_guardrail_traffic(vault)
    result = vault.experiments.check("tone", requested_by="carol")
    assert result.stopped
    # Back to what production held when the experiment started, never a variant's pick.
    assert vault.labels(PROMPT)["production"] == 1
    assert vault.get(PROMPT).version == 1
    moved = vault.audit.entries(action="label.set")[-1]
    assert moved.actor == GUARDRAIL_ACTOR
    assert moved.details["from_version"] == 2 and moved.details["to_version"] == 1
    assert moved.details["cause"] == {
        "experiment": "tone",
        "action": "auto_stop",
        "on_behalf_of": "alice",
        "requested_by": "carol",
    }
    stop = vault.audit.entries(action="experiment.auto_stop")[-1]
    assert stop.actor == GUARDRAIL_ACTOR and stop.details["on_behalf_of"] == "alice"
    assert stop.details["restored"] == {"label": "production", "from": 2, "to": 1}
    assert vault.audit.verify().ok


def test_auto_stop_leaves_an_unmoved_label_alone(vault: Vault) -> None:
    vault.experiments.check_every = 10**9
    make(vault, guardrails=SKEWED_GUARD)
    _bad_guardrail_traffic(vault)
    assert vault.experiments.check("tone").stopped
    assert [e.to_version for e in vault.label_history(PROMPT, "production")] == [1]
    assert "restored" not in vault.audit.entries(action="experiment.auto_stop")[-1].details


@pytest.mark.parametrize(
    "move",
    [
        lambda v: v.set_label(PROMPT, "production", 2, actor="bob"),
        lambda v: v.rollback(PROMPT, label="production", actor="bob"),
        lambda v: v.delete_label(PROMPT, "production", actor="bob"),
        lambda v: v.push(PROMPT, template="New {{name}}", labels=["production"], author="bob"),
    ],
    ids=["set", "rollback", "delete", "push"],
)
def test_a_label_serving_an_experiment_does_not_move(vault: Vault, move: Any) -> None:
    vault.set_label(PROMPT, "production", 2)
    vault.set_label(PROMPT, "production", 1)  # so a rollback has somewhere to go
    make(vault)
    before = vault.label_history(PROMPT)
    with pytest.raises(ExperimentStateError) as err:
        move(vault)
    assert err.value.details["experiment"] == "tone"
    assert "stop or conclude" in err.value.message
    assert vault.label_history(PROMPT) == before
    assert vault.versions(PROMPT)[0].version == 2  # the refused push wrote nothing
    vault.experiments.stop("tone")
    move(vault)  # once stopped, the label is free again


def test_other_labels_move_while_an_experiment_runs(vault: Vault) -> None:
    make(vault)
    assert vault.set_label(PROMPT, "staging", 1).to_version == 1
    assert vault.push(PROMPT, template="x {{name}}", labels=["canary"]).version.version == 3


def test_conclude_ends_and_moves_in_one_transaction(vault: Vault) -> None:
    make(vault)
    done = vault.experiments.conclude("tone", "friendly", actor="carol")
    assert done.status == "concluded" and vault.get(PROMPT).version == 2
    moved = vault.audit.entries(action="label.set")[-1]
    assert moved.actor == "carol"
    assert moved.details["cause"] == {
        "experiment": "tone",
        "action": "conclude",
        "winner": "friendly",
    }


def test_create_with_start_is_one_transaction(vault: Vault) -> None:
    make(vault, "first")
    # The start fails (another experiment runs on production): no draft is left behind.
    with pytest.raises(ExperimentStateError):
        vault.experiments.create("second", **_definition(1, 2), start=True)
    with pytest.raises(ExperimentNotFound):
        vault.experiments.get("second")
    assert [e.action for e in vault.audit.entries(target="experiment:second")] == []
    vault.experiments.stop("first")
    exp = vault.experiments.create("second", **_definition(1, 2), start=True, actor="bob")
    assert exp.status == "running" and exp.started_by == "bob"
    assert vault.get(PROMPT, unit_id="u1").experiment == "second"
    with pytest.raises(ConflictError):
        vault.experiments.create("second", **_definition(1, 2), start=True)
