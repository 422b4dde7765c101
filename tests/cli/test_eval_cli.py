"""``promptvault eval``: run two versions, compare, --fail-under, --junit, gated promote."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from evals.model_stub import ModelStub
from promptvault import Vault


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelStub]:
    monkeypatch.setenv("PROMPTVAULT_SECRET_KEY", "cli secret")
    monkeypatch.setenv("STUB_KEY", "sk-cli")
    with ModelStub() as server:
        server.reply = lambda body: (
            "Nope" if "Say" in str(body["messages"][-1]["content"]) else "Answer 1"
        )
        vault = Vault()
        vault.push(
            "qa", template=[{"role": "user", "content": "Answer {{q}}"}], config={"model": "m"}
        )
        vault.push(
            "qa",
            template=[{"role": "user", "content": "Say {{q}}"}],
            config={"model": "m"},
            labels=["staging"],
        )
        vault.evals.create_dataset(
            "d",
            cases=[
                {
                    "key": f"c{i}",
                    "variables": {"q": "1"},
                    "expected": "Answer 1",
                    "metadata": {"i": i},
                }
                for i in range(8)
            ],
            evaluators=[{"type": "exact"}, {"type": "contains", "value": "1"}],
        )
        vault.close()
        yield server


def test_eval_run_compare_fail_under_and_junit(
    cli: Callable[..., Any], stub: ModelStub, tmp_path: Path
) -> None:
    made = cli(
        "eval", "providers", "set", "stub", "--base-url", stub.url, "--api-key-env", "STUB_KEY"
    )
    assert made.output.strip() == "provider stub (openai) saved, key stored"
    assert "sk-cli" not in cli("eval", "providers", "list", "--json").output

    junit = tmp_path / "out.xml"
    result = cli(
        "eval",
        "run",
        "d",
        "--prompt",
        "qa@production",
        "--prompt",
        "qa@staging",
        "--fail-under",
        "exact=0.9",
        "--junit",
        str(junit),
    )
    assert result.exit_code == 1
    assert "qa@1 on d v1 (stub/m): 8/8 cases, 0 errors" in result.output
    assert "qa@2 vs qa@1 on 8 cases (8 flipped):" in result.output
    line = [x for x in result.output.splitlines() if x.startswith("exact ")][-1]
    assert line.split()[1:4] == ["1.000", "0.000", "-1.000"]
    assert line.split()[-2:] == ["0.00781", "worse"]
    assert "below threshold: qa@2 exact: mean 0.000 < 0.9" in result.output
    assert stub.headers[0]["authorization"] == "Bearer sk-cli"

    suites = ET.parse(junit).getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["d:qa@1", "d:qa@2"]
    assert [(s.get("tests"), s.get("failures"), s.get("errors")) for s in suites] == [
        ("9", "0", "0"),
        ("9", "9", "0"),
    ]
    failed = suites[1].find("testcase/failure")
    assert failed is not None and "exact" in (failed.get("message") or "")

    runs = json.loads(cli("eval", "list", "--json").output)
    assert [r["version"] for r in runs] == [2, 1]
    shown = cli("eval", "show", runs[0]["id"], "--failures").output
    assert shown.count("fail") >= 8

    cli("eval", "gate", "set", "qa", "production", "--dataset", "d", "--min", "exact=0.9")
    refused = cli("promote", "qa", "2")
    assert refused.exit_code != 0
    assert "qa@production is gated on dataset 'd'" in refused.output
    assert "exact: mean 0.000 is below 0.9" in refused.output
    forced = cli("promote", "qa", "2", "--override-gate")
    assert forced.exit_code == 0
