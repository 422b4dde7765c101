"""Eval gates: promotion needs a passing run and no significant regression."""

from __future__ import annotations

import pytest

from promptvault import Vault
from promptvault.errors import EvalGateError
from promptvault.evals.service import EvalService

from .model_stub import ModelStub


def _candidate(vault: Vault, stub: ModelStub, wrong: set[str]) -> int:
    pushed = vault.push(
        "qa", template=[{"role": "user", "content": "Reply {{q}}"}], config={"model": "gpt-4o-mini"}
    )

    def reply(body: dict[str, object]) -> str:
        text = str(body["messages"][-1]["content"])  # type: ignore[index]
        q = text.rsplit(maxsplit=1)[-1]
        return f"Wrong {q}" if text.startswith("Reply") and q in wrong else f"Answer {q}"

    stub.reply = reply
    return pushed.version.version


def test_promotion_is_refused_until_a_passing_run(
    vault: Vault, evals: EvalService, stub: ModelStub
) -> None:
    vault.evals.set_gate("qa", "production", dataset="d", thresholds={"exact": 0.9})
    version = _candidate(vault, stub, wrong=set())
    with pytest.raises(EvalGateError) as refused:
        vault.set_label("qa", "production", version)
    assert refused.value.code == "eval_gate_failed"
    assert "no finished run of qa@2 on d v1" in refused.value.message
    assert vault.labels("qa")["production"] == 1

    evals.run("d", f"qa@{version}")
    with pytest.raises(EvalGateError) as baseline:
        vault.set_label("qa", "production", version)
    assert "no finished run of qa@1" in baseline.value.message

    evals.run("d", "qa@production")
    event = vault.set_label("qa", "production", version, actor="ann")
    assert event.to_version == version
    assert vault.labels("qa")["production"] == version


def test_a_significant_regression_blocks_and_override_is_audited(
    vault: Vault, evals: EvalService, stub: ModelStub
) -> None:
    vault.evals.add_cases(
        "d",
        [
            {"key": f"e{i:02d}", "variables": {"q": f"m{i}"}, "expected": f"Answer m{i}"}
            for i in range(28)
        ],
    )
    # 4 of 40 wrong: the 0.85 threshold holds, but McNemar says it is worse than v1.
    vault.evals.set_gate("qa", "production", dataset="d", thresholds={"exact": 0.85})
    evals.run("d", "qa@production")
    version = _candidate(vault, stub, wrong={"n0", "n1", "n2", "n3", "n4", "n5", "n6"})
    run = evals.run("d", f"qa@{version}")
    assert run.summary is not None and run.summary.evaluators["exact"].mean == 33 / 40
    with pytest.raises(EvalGateError) as refused:
        vault.set_label("qa", "production", version)
    reasons = refused.value.details["reasons"]
    assert reasons[0] == "exact: mean 0.825 is below 0.85"
    assert reasons[1].startswith("exact: significantly worse than v1 (1.000 -> 0.825, p=0.0156")
    assert refused.value.details["run"] == run.id

    vault.set_label("qa", "production", version, actor="root", override_gate=True)
    assert vault.labels("qa")["production"] == version
    override = next(e for e in vault.audit.entries() if e.action == "gate.override")
    assert override.actor == "root" and override.details["reasons"] == reasons
    # Other labels are not gated; a removed gate no longer applies.
    vault.set_label("qa", "staging", 1)
    vault.evals.delete_gate("qa", "production")
    vault.set_label("qa", "production", 1)


def test_a_run_with_failed_calls_does_not_pass(
    vault: Vault, evals: EvalService, stub: ModelStub
) -> None:
    vault.evals.set_gate("qa", "staging", dataset="d", thresholds={"exact": 0.5})
    stub.fail(500, times=4)  # every attempt of the first case
    run = evals.run("d", "qa@1", concurrency=1)
    assert run.summary is not None and run.summary.errors == 1
    with pytest.raises(EvalGateError) as refused:
        vault.set_label("qa", "staging", 1)
    assert refused.value.details["reasons"] == [f"run {run.id}: 1 cases ended in errors"]
