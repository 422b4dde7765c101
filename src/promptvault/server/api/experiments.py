"""Experiments: definitions, lifecycle, reports and checks; event ingestion.

Roles: reads and reports need ``viewer``; create, start, ramp, stop, conclude and check
need ``editor`` and the right to move the experiment's label: on a protected label
(``production``) each of them needs ``admin``, since a running experiment decides what the
label serves (a 0/100 split serves the treatment to everyone) and concluding or an
automatic stop moves the label. ``POST /v1/events`` takes ``runtime`` keys (applications
send events); ``GET /v1/experiments/running`` is what the SDK polls to assign locally, so
``runtime`` may read it too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from promptvault.config import Settings
from promptvault.entities import ApiKey
from promptvault.experiments.models import (
    CheckResult,
    Event,
    Experiment,
    ExperimentReport,
    Guardrail,
    IngestResult,
    Metric,
    Status,
    UnitType,
)
from promptvault.server.api._body import RequestBody
from promptvault.server.api._models import Page
from promptvault.server.auth import Permission, check_conclusion, check_labels, require
from promptvault.server.deps import MetricsDep, SettingsDep, VaultDep
from promptvault.server.errors import ERROR_RESPONSES
from promptvault.vault import Vault

__all__ = ["events_router", "router"]

router = APIRouter(prefix="/v1/experiments", tags=["experiments"], responses=ERROR_RESPONSES)
events_router = APIRouter(prefix="/v1/events", tags=["experiments"], responses=ERROR_RESPONSES)
Resolver = Annotated[ApiKey, Depends(require(Permission.RESOLVE))]
Reader = Annotated[ApiKey, Depends(require(Permission.READ))]
Writer = Annotated[ApiKey, Depends(require(Permission.WRITE))]
Sender = Annotated[ApiKey, Depends(require(Permission.EVENTS))]
NamePath = Annotated[str, "experiment name"]

MAX_EVENTS = 10_000


class _Body(RequestBody):
    """A request body of this router."""


class VariantBody(_Body):
    """An arm: ``version`` is a version number or a label of the prompt (resolved now)."""

    name: str = Field(min_length=1, max_length=64)
    version: int | str
    weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)


class CreateExperimentBody(_Body):
    """A new experiment (created as a draft; start it to route traffic)."""

    name: str = Field(min_length=1, max_length=100)
    prompt: str = Field(min_length=1, max_length=200)
    label: str = "production"
    variants: list[VariantBody] = Field(min_length=2, max_length=100)
    primary_metric: Metric
    guardrails: list[Guardrail] = Field(default_factory=list, max_length=50)
    metrics: list[Metric] = Field(default_factory=list, max_length=50)
    coverage: float = Field(default=1.0, gt=0, le=1)
    unit_type: UnitType = "user"
    seed: str | None = Field(default=None, min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    start: bool = Field(
        default=False, description="Start it in the same transaction (nothing is left on failure)."
    )
    allocation: Literal["fixed", "bandit"] = "fixed"
    floor: float = Field(default=0.05, ge=0, lt=0.5, allow_inf_nan=False)


class RampBody(_Body):
    """New weights by variant name (variants left out keep theirs)."""

    weights: dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]]


class StartBody(_Body):
    """Optional: ``at`` backdates the first start (history recorded elsewhere)."""

    at: datetime | None = None


class StopBody(_Body):
    """Why the experiment stops (kept in its decision and the audit log)."""

    reason: str = Field(default="", max_length=2000)


class ConcludeBody(_Body):
    """The winning variant: the experiment's label moves to its version."""

    winner: str = Field(min_length=1, max_length=64)


class EventsBody(_Body):
    """A batch of events; ``key`` (or the ``Idempotency-Key`` header) makes retries safe."""

    events: list[Event] = Field(max_length=MAX_EVENTS)
    key: str | None = Field(default=None, min_length=1, max_length=200)
    dropped: int = Field(default=0, ge=0, le=1_000_000_000)
    """Events the sending SDK lost since its last report (added to ``/metrics``)."""


def _may_change(key: ApiKey, exp: Experiment, settings: Settings) -> None:
    """The object-level check of every experiment change: may ``key`` move its label?"""
    check_labels(key, [exp.label], settings.protected_labels)


def _changeable(name: str, vault: Vault, settings: Settings, key: ApiKey) -> Experiment:
    exp = vault.experiments.get(name)
    _may_change(key, exp, settings)
    return exp


@router.post("", response_model=Experiment, status_code=201)
def create_experiment(
    body: CreateExperimentBody, vault: VaultDep, settings: SettingsDep, key: Writer
) -> Experiment:
    """Create a draft experiment, or a running one with ``start`` (409 when the name is
    taken; 403 on a protected label without admin)."""
    check_labels(key, [body.label], settings.protected_labels)
    return vault.experiments.create(
        body.name,
        prompt=body.prompt,
        label=body.label,
        variants=[v.model_dump() for v in body.variants],
        primary_metric=body.primary_metric,
        guardrails=body.guardrails,
        metrics=body.metrics,
        coverage=body.coverage,
        unit_type=body.unit_type,
        seed=body.seed,
        description=body.description,
        actor=key.name,
        start=body.start,
        allocation=body.allocation,
        floor=body.floor,
    )


@router.get("", response_model=Page[Experiment])
def list_experiments(
    *,
    vault: VaultDep,
    _key: Reader,
    prompt: Annotated[str | None, Query(max_length=200)] = None,
    status: Status | None = None,
) -> Page[Experiment]:
    """Experiments newest first, optionally of one prompt or in one status."""
    return Page(items=vault.experiments.list(prompt=prompt, status=status))


@router.get("/running", response_model=list[Experiment])
def running_experiments(
    *,
    vault: VaultDep,
    _key: Resolver,
    prompt: Annotated[str, Query(min_length=1, max_length=200)],
    label: Annotated[str | None, Query(max_length=64)] = None,
) -> list[Experiment]:
    """The running experiments of a prompt: what the SDK needs to assign units locally."""
    return vault.experiments.running(prompt, label)


@router.get("/{name}", response_model=Experiment)
def get_experiment(name: NamePath, vault: VaultDep, _key: Reader) -> Experiment:
    """One experiment's definition and state."""
    return vault.experiments.get(name)


@router.post("/{name}/start", response_model=Experiment)
def start_experiment(
    name: NamePath,
    vault: VaultDep,
    settings: SettingsDep,
    key: Writer,
    body: Annotated[StartBody | None, Body()] = None,
) -> Experiment:
    """Start routing (409 when another experiment runs on the same prompt and label, or
    when control is not the version the label serves)."""
    _changeable(name, vault, settings, key)
    return vault.experiments.start(name, actor=key.name, at=body.at if body else None)


@router.post("/{name}/reallocate", response_model=Experiment)
def reallocate_experiment(
    name: NamePath, vault: VaultDep, settings: SettingsDep, key: Writer
) -> Experiment:
    """Recompute a running bandit's weights now (Thompson sampling; 409 unless it is one)."""
    _changeable(name, vault, settings, key)
    return vault.experiments.reallocate(name, actor=key.name)


@router.get("/{name}/phases")
def experiment_phases(name: NamePath, vault: VaultDep, _key: Reader) -> list[dict[str, Any]]:
    """The weights over time: one entry per phase (create, ramp, bandit reallocation)."""
    return vault.experiments.phases(name)


@router.post("/{name}/ramp", response_model=Experiment)
def ramp_experiment(
    name: NamePath, body: RampBody, vault: VaultDep, settings: SettingsDep, key: Writer
) -> Experiment:
    """Change weights; as few units as possible change variant."""
    _changeable(name, vault, settings, key)
    return vault.experiments.ramp(name, body.weights, actor=key.name)


@router.post("/{name}/stop", response_model=Experiment)
def stop_experiment(
    name: NamePath,
    vault: VaultDep,
    settings: SettingsDep,
    key: Writer,
    body: StopBody | None = None,
) -> Experiment:
    """Stop routing: everyone gets the label's version again."""
    _changeable(name, vault, settings, key)
    reason = body.reason if body is not None else ""
    return vault.experiments.stop(name, actor=key.name, reason=reason)


@router.post("/{name}/conclude", response_model=Experiment)
def conclude_experiment(
    name: NamePath, body: ConcludeBody, vault: VaultDep, settings: SettingsDep, key: Writer
) -> Experiment:
    """Move the label to the winner's version and end the experiment (admin when the label
    is protected)."""
    exp = _changeable(name, vault, settings, key)
    winner = exp.variant(body.winner)
    if winner is not None:
        held = exp.label_version if exp.label_version is not None else exp.control.version
        check_conclusion(exp.label, held, winner.version, settings.approval_labels)
    return vault.experiments.conclude(name, body.winner, actor=key.name)


@router.get("/{name}/report", response_model=ExperimentReport)
def experiment_report(
    name: NamePath,
    vault: VaultDep,
    _key: Reader,
    mode: Literal["fixed", "sequential"] = "sequential",
    alpha: Annotated[float, Query(gt=0, lt=1)] = 0.05,
) -> ExperimentReport:
    """The analysis of the stored statistics (the report says which mode it used)."""
    return vault.experiments.report(name, mode=mode, alpha=alpha)


@router.post("/{name}/check", response_model=CheckResult)
def check_experiment(
    name: NamePath, vault: VaultDep, settings: SettingsDep, key: Writer
) -> CheckResult:
    """Run the guardrail and split checks now; a failing check stops the experiment and
    restores the label's version from before the experiment."""
    _changeable(name, vault, settings, key)
    return vault.experiments.check(name, requested_by=key.name)


@events_router.post("", response_model=IngestResult)
async def ingest_events(
    body: EventsBody,
    vault: VaultDep,
    metrics: MetricsDep,
    _key: Sender,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Store exposures and outcomes in one transaction; a retried batch is answered with its
    first result (``duplicate``: true) and not counted twice.

    The server recomputes each unit's variant: an exposure naming another variant is
    refused (``variant_mismatch``), counted in the report and in ``/metrics``."""
    key = body.key or idempotency_key or None
    result: IngestResult = await run_in_threadpool(vault.experiments.ingest, body.events, key=key)
    if not result.duplicate:
        metrics.events_rejected(result.rejected)
        metrics.client_dropped(body.dropped)
    return result
