"""Evaluators: each built-in type, Python callables, embedding similarity, LLM judge."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from promptvault import Vault
from promptvault.errors import InvalidInputError
from promptvault.evals.evaluators import EvaluatorDeps, build_evaluators, check_specs
from promptvault.evals.models import Case, Score
from promptvault.evals.service import EvalService
from waiting import wait_until

from .model_stub import ModelStub


def _score(spec: dict[str, Any] | Any, output: str, expected: Any = None) -> Score:
    deps = EvaluatorDeps(embed=_embed)
    (evaluator,) = build_evaluators([spec], deps)
    case = Case(key="k", variables={"q": "x"}, expected=expected)
    return asyncio.run(evaluator.score(output, case))


def _embed(name: str, texts: list[str]) -> list[list[float]]:
    from promptvault.fewshot.embedders import get_embedder

    return [[float(x) for x in row] for row in get_embedder(name).embed(texts)]


@pytest.mark.parametrize(
    ("spec", "output", "expected", "passed"),
    [
        ({"type": "exact"}, " Paris \n", "Paris", True),
        ({"type": "exact", "strip": False}, " Paris", "Paris", False),
        ({"type": "exact", "case_sensitive": False}, "PARIS", "paris", True),
        ({"type": "contains"}, "It is Paris.", "Paris", True),
        ({"type": "contains", "value": ["a", "zz"]}, "abc", None, False),
        ({"type": "not_contains", "value": ["sorry", "cannot"]}, "Sure: 4", None, True),
        ({"type": "not_contains", "value": "sorry"}, "I am sorry", None, False),
        ({"type": "regex", "pattern": r"^\d{3}-\d{4}$"}, "555-1234", None, True),
        ({"type": "regex", "pattern": "yes", "flags": "i"}, "YES", None, True),
        ({"type": "json"}, '```json\n{"a": 1}\n```', None, True),
        ({"type": "json"}, "{a: 1}", None, False),
        (
            {"type": "json_schema", "schema": {"type": "object", "required": ["a"]}},
            '{"a": 1}',
            None,
            True,
        ),
        (
            {
                "type": "json_schema",
                "schema": {"properties": {"a": {"type": "string"}}},
            },
            '{"a": 1}',
            None,
            False,
        ),
        ({"type": "numeric", "tolerance": 0.01}, "The answer is 3.141", 3.14, True),
        ({"type": "numeric", "tolerance": 0.1, "relative": True}, "total: 1,150", 1000, False),
        ({"type": "numeric"}, "no number", 3, False),
    ],
)
def test_builtin_evaluators(spec: dict[str, Any], output: str, expected: Any, passed: bool) -> None:
    score = _score(spec, output, expected)
    assert score.passed is passed
    assert score.score == (1.0 if passed else 0.0)
    assert score.name == spec["type"]


def test_failures_say_why() -> None:
    schema = {"type": "json_schema", "schema": {"properties": {"a": {"type": "string"}}}}
    assert _score(schema, '{"a": 1}').reason == "a: 1 is not of type 'string'"
    assert _score({"type": "contains", "value": ["x", "y"]}, "x").reason == "missing 'y'"


def test_embedding_similarity_scores_by_cosine() -> None:
    near = _score({"type": "embedding", "threshold": 0.5}, "the cat sat on the mat", "the cat sat")
    far = _score({"type": "embedding", "threshold": 0.5}, "quarterly revenue", "the cat sat")
    assert near.passed and not far.passed
    assert 0 <= far.score < near.score <= 1
    assert near.reason is not None and near.reason.startswith("cosine ")


def test_callables_return_bool_number_tuple_or_score() -> None:
    def short(output: str, case: Case) -> bool:
        return len(output) < 5

    async def ratio(output: str, case: Case) -> tuple[float, str]:
        return 0.25, "a quarter"

    def broken(output: str, case: Case) -> float:
        raise ValueError("boom")

    evaluators = build_evaluators([short, ratio, broken], EvaluatorDeps())
    case = Case(key="k", variables={})
    scores = [asyncio.run(e.score("abc", case)) for e in evaluators]
    assert [(s.name, s.score, s.passed, s.reason) for s in scores] == [
        ("short", 1.0, True, None),
        ("ratio", 0.25, False, "a quarter"),
        ("broken", 0.0, False, "evaluator error: boom"),
    ]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"type": "nope"}, "evaluators[0].type"),
        ({"type": "regex", "pattern": "("}, "evaluators[0].pattern"),
        ({"type": "json_schema", "schema": {"type": 5}}, "evaluators[0].schema"),
        ({"type": "numeric", "tolerance": -1}, "evaluators[0].tolerance"),
        ({"type": "judge"}, "evaluators[0].prompt"),
        ({"type": "embedding", "threshold": 2}, "evaluators[0].threshold"),
        ({"type": "exact", "name": "1bad"}, "evaluators[0].name"),
    ],
)
def test_bad_specs_name_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as bad:
        check_specs([spec])
    assert bad.value.details["field"] == field


def test_llm_judge_is_a_promptvault_prompt(
    vault: Vault, evals: EvalService, stub: ModelStub
) -> None:
    vault.push(
        "judge/correct",
        template=[{"role": "user", "content": "JUDGE expected={{expected}} output={{output}}"}],
        config={"model": "judge-model"},
    )

    def reply(body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        if text.startswith("JUDGE"):
            good = text.split("expected=")[1].split(" output=")[0] == text.split("output=")[1]
            return json.dumps({"score": 9 if good else 2, "reason": "matches" if good else "no"})
        return "Answer n1" if "n1" in text else "wrong"

    stub.reply = reply
    run = evals.run(
        "d",
        "qa@production",
        evaluators=[{"type": "judge", "prompt": "judge/correct@production", "scale": 10}],
    )
    scores = {r.key: r.scores[0] for r in run.results or []}
    assert scores["c01"].model_dump() == {
        "name": "judge",
        "score": 0.9,
        "passed": True,
        "reason": "matches",
    }
    assert scores["c02"].score == pytest.approx(0.2) and not scores["c02"].passed
    judged = [r for r in stub.requests if r["model"] == "judge-model"]
    assert len(judged) == 12


def test_judge_shares_the_runs_client_and_closes_it(
    vault: Vault, evals: EvalService, stub: ModelStub
) -> None:
    vault.push(
        "judge/any",
        template=[{"role": "user", "content": "JUDGE {{output}}"}],
        config={"model": "judge-model"},
    )
    stub.reply = lambda body: '{"score": 1}' if "JUDGE" in str(body) else "answer"
    run = evals.run(
        "d",
        "qa@production",
        concurrency=1,
        evaluators=[{"type": "judge", "prompt": "judge/any@production"}],
    )
    assert run.summary is not None and run.summary.evaluators["judge"].n == 12
    assert stub.served == 24
    # one client, so one keep-alive connection for the cases and the judge alike, and
    # closed when the run ends
    assert stub.connections == 1
    wait_until(lambda: stub.open_connections == 0, what="the run's connection closed")
