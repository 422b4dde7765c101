"""Evaluation values shared by the service, the server and the CLI (pydantic, no I/O)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DATASET_NAME",
    "Case",
    "CaseComparison",
    "CaseResult",
    "Comparison",
    "Dataset",
    "DatasetChange",
    "EvaluatorComparison",
    "EvaluatorSummary",
    "Gate",
    "GateResult",
    "ImportProblem",
    "ModelAnswer",
    "Provider",
    "ProviderKind",
    "Run",
    "RunProgress",
    "RunSummary",
    "Score",
]

DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
"""Dataset and provider names: letters, digits, ``_ . -``; no slash, so they fit a path."""

ProviderKind = Literal["openai", "anthropic"]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Case(_Value):
    """One test case: the prompt's ``variables``, an optional ``expected`` answer (text or a
    structured expectation), ``tags`` and free ``metadata``. ``key`` names it across dataset
    versions (given, or a digest of its content)."""

    key: str
    variables: dict[str, Any]
    expected: Any = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Dataset(_Value):
    """A dataset's current state; ``version`` goes up with every change to it."""

    name: str
    description: str = ""
    version: int
    cases: int
    evaluators: list[dict[str, Any]] = Field(default_factory=list)
    created_at: datetime
    created_by: str = ""
    updated_at: datetime
    updated_by: str = ""


class ImportProblem(_Value):
    """Why one line of an imported file was refused (``line`` is 1-based)."""

    line: int
    field: str
    message: str


class DatasetChange(_Value):
    """What one change did: the version it made (unchanged when nothing changed)."""

    dataset: str
    version: int
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[ImportProblem] = Field(default_factory=list)


class Provider(_Value):
    """A model provider as anyone may see it: the secret itself is never part of it."""

    name: str
    kind: ProviderKind
    base_url: str | None = None
    model: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    has_secret: bool = False
    source: Literal["database", "settings"] = "database"
    updated_at: datetime | None = None
    updated_by: str = ""


class ModelAnswer(_Value):
    """One model call outside a run (the playground's Run): the answer and what it cost."""

    provider: str
    model: str | None
    text: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    cost: float | None = None


class Score(_Value):
    """One evaluator's verdict on one output: ``score`` in [0, 1], pass or fail, and why."""

    name: str
    score: float
    passed: bool
    reason: str | None = None


class CaseResult(_Value):
    """What one case produced in one run."""

    key: str
    output: str | None = None
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    cached: bool = False
    error: str | None = None
    scores: list[Score] = Field(default_factory=list)


class EvaluatorSummary(_Value):
    """One evaluator over a run: mean score and pass rate over the scored cases."""

    name: str
    n: int
    mean: float
    pass_rate: float


class RunSummary(_Value):
    """A run's totals; ``cost`` is what the run spent (cache hits are free), ``cost_total``
    what it would have cost without the cache."""

    cases: int
    finished: int
    errors: int
    cached: int
    latency_ms_p50: float | None = None
    latency_ms_p95: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    cost_total: float = 0.0
    evaluators: dict[str, EvaluatorSummary] = Field(default_factory=dict)


class RunProgress(_Value):
    """How far a run has got: cases with a committed result (``done``, of ``total``) and
    how many of those are errors (a resume retries them)."""

    done: int
    total: int
    errors: int


class Run(_Value):
    """One run of a prompt version over a dataset version. ``status`` is ``running`` while
    its cases are being called (``progress`` says how far it is), ``finished``, or
    ``interrupted`` (stopped before the end, or its process died and its lease ran out: a
    resume finishes it)."""

    id: str
    dataset: str
    dataset_version: int
    prompt: str
    version: int
    ref: str
    provider: str
    model: str | None = None
    evaluators: list[dict[str, Any]] = Field(default_factory=list)
    status: Literal["running", "finished", "interrupted"]
    total: int
    summary: RunSummary | None = None
    created_at: datetime
    created_by: str = ""
    finished_at: datetime | None = None
    progress: RunProgress | None = None
    results: list[CaseResult] | None = None


class EvaluatorComparison(_Value):
    """One evaluator, run A against run B over the cases both ran.

    ``difference`` is ``B - A`` (of pass rates for pass/fail evaluators, of mean scores
    otherwise) with its confidence interval; ``verdict`` is ``better``, ``worse``,
    ``no significant difference`` or ``cannot tell`` (too few cases for any test to reach
    ``alpha``), and ``explanation`` says so in a sentence.
    """

    name: str
    kind: Literal["pass/fail", "score"]
    n: int
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    test: str
    p_value: float
    verdict: Literal["better", "worse", "no significant difference", "cannot tell"]
    explanation: str
    a_only_passed: int = 0
    b_only_passed: int = 0


class CaseComparison(_Value):
    """One case side by side; ``diff`` is a word diff from A's output to B's:
    ``[op, text]`` pairs with op ``=``, ``-`` or ``+``."""

    key: str
    output_a: str | None
    output_b: str | None
    diff: list[tuple[str, str]]
    scores_a: dict[str, float]
    scores_b: dict[str, float]
    flipped: dict[str, str] = Field(default_factory=dict)


class Comparison(_Value):
    """Two runs over the same dataset, case by case and evaluator by evaluator."""

    run_a: str
    run_b: str
    dataset: str
    ref_a: str
    ref_b: str
    n: int
    alpha: float
    evaluators: list[EvaluatorComparison]
    cases: list[CaseComparison]
    flipped: list[str]


class Gate(_Value):
    """An eval gate on a prompt's label: the dataset, the minimum mean per evaluator, and
    the significance level at which a regression against the label's version blocks."""

    prompt: str
    label: str
    dataset: str
    thresholds: dict[str, float]
    alpha: float = 0.05
    created_at: datetime | None = None
    created_by: str = ""


class GateResult(_Value):
    """Whether a version may be promoted to a gated label, and why (or why not)."""

    passed: bool
    prompt: str
    label: str
    version: int
    dataset: str
    run: str | None = None
    baseline: str | None = None
    reasons: list[str] = Field(default_factory=list)
    means: dict[str, float] = Field(default_factory=dict)
