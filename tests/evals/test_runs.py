"""Runs against loopback model servers spoken to by the real openai and anthropic clients."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from promptvault import Vault
from promptvault.errors import InvalidInputError, SecretKeyMissingError
from promptvault.evals.service import EvalService

from .conftest import Waits
from .model_stub import ModelStub


def test_openai_run_records_every_case_and_builds_like_build(
    vault: Vault, evals: EvalService, stub: ModelStub
) -> None:
    run = evals.run("d", "qa@production", concurrency=4)
    assert run.status == "finished" and run.total == 12
    assert run.prompt == "qa" and run.version == 1 and run.dataset_version == 1
    assert run.model == "gpt-4o-mini" and run.provider == "stub"
    # Exactly the request build() makes, sent to the OpenAI-compatible endpoint.
    expected = vault.build("qa@production", {"q": "n3"}).to_openai()
    assert expected in stub.requests
    assert set(stub.paths) == {"/v1/chat/completions"}
    assert stub.headers[0]["authorization"] == "Bearer sk-test"
    first = run.results[0] if run.results else None
    assert first is not None and first.key == "c00"
    assert first.output == "Answer n0" and first.error is None and not first.cached
    assert (first.input_tokens, first.output_tokens) == (2, 2)
    assert first.cost == pytest.approx((2 * 0.15 + 2 * 0.6) / 1e6)
    assert first.latency_ms > 0
    assert [s.model_dump() for s in first.scores] == [
        {"name": "exact", "score": 1.0, "passed": True, "reason": None}
    ]
    summary = run.summary
    assert summary is not None
    assert (summary.finished, summary.errors, summary.cached) == (12, 0, 0)
    assert summary.evaluators["exact"].mean == 1.0
    assert summary.cost == pytest.approx(12 * first.cost)


def test_rerun_is_answered_from_the_cache(evals: EvalService, stub: ModelStub) -> None:
    evals.run("d", "qa@production")
    assert stub.served == 12
    again = evals.run("d", "qa@production", model="gpt-4o-mini")
    assert stub.served == 12  # nothing sent
    assert again.summary is not None
    assert (again.summary.cached, again.summary.cost) == (12, 0.0)
    assert again.summary.cost_total > 0
    other_model = evals.run("d", "qa@production", model="gpt-4.1")
    assert stub.served == 24 and other_model.model == "gpt-4.1"  # another request: sent
    assert {r["model"] for r in stub.requests[12:]} == {"gpt-4.1"}
    fresh = evals.run("d", "qa@production", cache=False)
    assert stub.served == 36 and fresh.summary is not None and fresh.summary.cached == 0


def test_anthropic_run_through_the_anthropic_client(
    vault: Vault, evals: EvalService, stub: ModelStub
) -> None:
    evals.set_provider("claude", kind="anthropic", base_url=stub.origin, api_key="ak-test")
    run = evals.run("d", "qa@production", provider="claude", model="claude-haiku-4-5")
    assert set(stub.paths) == {"/v1/messages"}
    assert stub.headers[0]["authorization"] == "Bearer ak-test"
    assert stub.headers[0]["user-agent"].startswith("AsyncAnthropic/")
    built = vault.build("qa@production", {"q": "n0"})._replace(model="claude-haiku-4-5")
    assert built.to_anthropic() in stub.requests
    assert run.summary is not None and run.summary.evaluators["exact"].mean == 1.0


def test_429_waits_what_retry_after_asks(evals: EvalService, stub: ModelStub, waits: Waits) -> None:
    stub.fail(429, retry_after="7")
    stub.fail(503)
    run = evals.run("d", "qa@production", concurrency=1)
    assert run.summary is not None and run.summary.errors == 0
    assert waits.waits[0] == 7.0
    assert 0.25 <= waits.waits[1] <= 1.0  # exponential backoff with jitter, second try
    assert len(stub.requests) == 14


def test_retries_exhausted_is_that_case_s_error(
    evals: EvalService, stub: ModelStub, waits: Waits
) -> None:
    stub.fail(500, times=4)  # the first case's four attempts
    run = evals.run("d", "qa@production", concurrency=1)
    assert run.summary is not None and (run.summary.finished, run.summary.errors) == (11, 1)
    failed = [r for r in run.results or [] if r.error]
    assert len(failed) == 1 and "HTTP 500" in (failed[0].error or "")
    assert "after 4 attempts" in (failed[0].error or "")
    assert len(waits.waits) == 3


def test_timeouts_are_retried_then_reported(
    evals: EvalService, stub: ModelStub, waits: Waits
) -> None:
    evals.set_provider(
        "slow",
        kind="openai",
        base_url=stub.url,
        api_key="k",
        options={"timeout": 0.3, "max_retries": 1},
    )
    stub.hang(times=1)
    run = evals.run("d", "qa@production", provider="slow", concurrency=1)
    assert run.summary is not None and run.summary.errors == 0 and len(waits.waits) == 1
    stub.hang(times=2)
    again = evals.run("d", "qa@production", provider="slow", concurrency=1, cache=False)
    errors = [r.error for r in again.results or [] if r.error]
    assert errors == ["slow: timed out after 2 attempts"]


def test_variables_are_checked_before_anything_is_sent(
    vault: Vault, evals: EvalService, stub: ModelStub
) -> None:
    vault.evals.add_cases("d", [{"key": "bad", "variables": {"q": 5}}])
    with pytest.raises(InvalidInputError) as refused:
        evals.run("d", "qa@production")
    assert refused.value.details["field"].startswith("cases.bad.variables")
    assert stub.requests == [] and evals.runs() == []


def test_secrets_are_encrypted_and_need_the_key(
    vault: Vault, settings: object, tmp_path: Path
) -> None:
    db = tmp_path / "vault.db"
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT secret FROM eval_providers WHERE name='stub'").fetchone()[0]
    assert "sk-test" not in stored and stored.startswith("gAAAA")
    assert "secret" not in vault.evals.providers()[0].model_dump()
    keyless = Vault(vault.settings.model_copy(update={"secret_key": None}))
    try:
        with pytest.raises(SecretKeyMissingError) as missing:
            keyless.evals.set_provider("x", kind="openai", api_key="sk")
        assert "PROMPTVAULT_SECRET_KEY" in missing.value.message
        with pytest.raises(SecretKeyMissingError):
            keyless.evals.provider_config("stub")
    finally:
        keyless.close()
    other = Vault(vault.settings.model_copy(update={"secret_key": "another key"}))
    try:
        with pytest.raises(SecretKeyMissingError) as wrong:
            other.evals.provider_config("stub")
        assert "another PROMPTVAULT_SECRET_KEY" in wrong.value.message
    finally:
        other.close()
