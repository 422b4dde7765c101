"""Experiment values shared by the service, the server and the SDK (pydantic, no I/O).

An :class:`Experiment` is what ``vault.experiments.get(name)`` returns and what
``GET /v1/experiments/{name}`` sends; the SDK parses the same class back, so assignment in
the SDK (:meth:`Experiment.assigner`) uses exactly the server's definition.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from promptvault.entities import check_text
from promptvault.errors import InvalidInputError
from promptvault.experiments.assignment import Assigner

__all__ = [
    "EXPERIMENT_NAME",
    "CheckResult",
    "Event",
    "Experiment",
    "ExperimentReport",
    "Guardrail",
    "IngestResult",
    "Metric",
    "Status",
    "UnitType",
    "Variant",
    "check_floor",
]

Status = Literal["draft", "running", "stopped", "concluded"]
UnitType = Literal["user", "session", "request"]
Kind = Literal["binary", "continuous"]
Direction = Literal["higher", "lower"]

EXPERIMENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
"""Experiment names: lower case letters, digits, ``_ . -``; no slash, so they fit a path."""


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Metric(_Value):
    """A metric: ``binary`` (0/1 values) or ``continuous``, and which direction is better."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
    kind: Kind = "binary"
    direction: Direction = "higher"


class Guardrail(Metric):
    """A metric that must not get worse: ``tolerance`` is the absolute worsening allowed.

    The experiment stops by itself when the always-valid confidence interval of
    ``treatment - control`` lies entirely beyond ``tolerance`` on the bad side.
    """

    tolerance: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)


class Variant(_Value):
    """One arm: its name, the prompt version it serves and its relative weight."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    version: int = Field(ge=1)
    weight: float = Field(ge=0.0, allow_inf_nan=False)


def check_floor(floor: object, arms: int) -> float:
    """``floor`` as a float in ``[0, 1 / arms)``, or a clear error."""
    if isinstance(floor, bool) or not isinstance(floor, int | float):
        raise InvalidInputError("floor must be a number", details={"field": "floor"})
    if not 0.0 <= floor < 1.0 / arms:
        raise InvalidInputError(
            f"floor must be at least 0 and below 1/{arms} (one share per arm)",
            details={"field": "floor", "value": floor},
        )
    return float(floor)


@lru_cache(maxsize=256)
def _assigner(
    seed: str, names: tuple[str, ...], weights: tuple[float, ...], coverage: float
) -> Assigner:
    return Assigner(seed, names, weights, coverage=coverage)


class Experiment(_Value):
    """An experiment's definition and state; ``variants[0]`` is control."""

    name: str
    prompt: str
    label: str = "production"
    status: Status = "draft"
    unit_type: UnitType = "user"
    coverage: float = 1.0
    seed: str
    epoch: int = 0
    variants: tuple[Variant, ...]
    primary_metric: Metric
    guardrails: tuple[Guardrail, ...] = ()
    metrics: tuple[Metric, ...] = ()
    description: str = ""
    created_at: datetime
    created_by: str = ""
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    started_by: str = ""
    label_version: int | None = None
    decision: dict[str, Any] | None = None
    allocation: Literal["fixed", "bandit"] = "fixed"
    """``bandit``: weights recomputed on a schedule by Thompson sampling (:mod:`.bandit`)."""
    floor: float = 0.05
    """A bandit's least share of traffic per arm."""

    @property
    def control(self) -> Variant:
        """The control variant (the first one)."""
        return self.variants[0]

    def variant(self, name: str) -> Variant | None:
        """The variant called ``name``, or None."""
        for v in self.variants:
            if v.name == name:
                return v
        return None

    def all_metrics(self) -> tuple[Metric, ...]:
        """Primary metric, then guardrails, then other metrics."""
        return (self.primary_metric, *self.guardrails, *self.metrics)

    def assigner(self) -> Assigner:
        """The (shared, cached) assigner for the current weights."""
        return _assigner(
            self.seed,
            tuple(v.name for v in self.variants),
            tuple(v.weight for v in self.variants),
            self.coverage,
        )


class Event(_Value):
    """One exposure or outcome, as sent to ``POST /v1/events`` or ``ingest()``.

    An exposure names the variant the unit saw (the server assigns it when omitted); a
    ``unit_id`` of None marks a random, unit-less exposure (counted separately). An outcome
    carries a declared metric and a value (0 or 1 for binary metrics).
    """

    type: Literal["exposure", "outcome"]
    experiment: str = Field(max_length=100)
    unit_id: str | None = Field(default=None, max_length=200)
    variant: str | None = Field(default=None, max_length=64)
    metric: str | None = Field(default=None, max_length=100)
    value: float | None = Field(default=None, allow_inf_nan=False)
    at: datetime | None = None

    @field_validator("experiment", "unit_id", "variant", "metric")
    @classmethod
    def _storable(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Checked here, not when the batch is written: NUL cannot be stored on PostgreSQL.
        return None if value is None else check_text(value, str(info.field_name))


class IngestResult(_Value):
    """What a batch did: events accepted, rejected per reason, and whether it was a retry."""

    key: str | None = None
    accepted: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)
    duplicate: bool = False


class CheckResult(_Value):
    """The outcome of a guardrail and split check: ``stopped`` is True when it acted;
    ``notes`` say what it saw and deliberately did not act on."""

    experiment: str
    status: Status
    stopped: bool = False
    reasons: tuple[str, ...] = ()
    srm_p_value: float | None = None
    units: int = 0
    notes: tuple[str, ...] = ()


class ExperimentReport(_Value):
    """An experiment's report: counts, rejected events, the analysis and its timeline.

    ``analysis`` is :meth:`promptvault.experiments.analysis.Report.to_dict` (SRM check first,
    then every metric; ``mode`` says fixed or sequential). ``units`` are distinct units
    per variant, ``exposures`` exposure events, ``random_exposures`` the unit-less ones.
    ``timeline`` maps each metric to cumulative daily points
    ``{"day", "variant", "n", "mean", "ci_low", "ci_high"}`` (95% normal intervals).
    """

    experiment: Experiment
    mode: Literal["fixed", "sequential"]
    units: dict[str, int]
    exposures: dict[str, int]
    random_exposures: dict[str, int]
    rejected: dict[str, int] = Field(default_factory=dict)
    analysis: dict[str, Any]
    timeline: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
