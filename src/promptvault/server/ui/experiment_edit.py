"""Creating, starting and ramping experiments from the web UI.

The same checks as ``/v1/experiments``: ``write``, plus the right to move the experiment's
label (admin for a protected one such as ``production``). The form makes a two-arm
experiment (control and one treatment, by version number or label) with a primary metric
and an optional guardrail; the API and CLI make wider ones. "Start now" creates and starts
in one transaction, so a failed start leaves no draft behind.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from promptvault.errors import InvalidInputError
from promptvault.server.auth import Permission, check_labels
from promptvault.server.deps import SettingsDep, VaultDep
from promptvault.server.ui.experiments import experiment_url
from promptvault.server.ui.views import (
    UIRoute,
    User,
    UserDep,
    checked_form,
    flash,
    page,
    redirect,
    require_permission,
)

__all__ = ["NEW_URL", "router"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)
NEW_URL = "/experiments/+new"  # "+" is in no experiment name, so no page is shadowed
_KINDS = ("binary", "continuous")


def _text(form: Any, field: str) -> str:
    value = form.get(field)
    return value.strip() if isinstance(value, str) else ""


def _number(form: Any, field: str, default: float) -> float:
    raw = _text(form, field)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise InvalidInputError(f"{field} must be a number >= 0", details={"field": field})
    return value


def _version(raw: str, field: str) -> int | str:
    if not raw:
        raise InvalidInputError(f"choose the {field} version", details={"field": field})
    return int(raw) if raw.isdigit() else raw  # a label such as "staging" resolves now


def definition(form: Any) -> dict[str, Any]:
    """The experiment the form describes, as ``vault.experiments.create`` takes it."""
    metric = {
        "name": _text(form, "metric"),
        "kind": _text(form, "metric_kind") or "binary",
        "direction": _text(form, "metric_direction") or "higher",
    }
    guardrails = []
    if _text(form, "guardrail"):
        guardrails.append(
            {
                "name": _text(form, "guardrail"),
                "kind": _text(form, "guardrail_kind") or "continuous",
                "direction": _text(form, "guardrail_direction") or "lower",
                "tolerance": _number(form, "guardrail_tolerance", 0.0),
            }
        )
    return {
        "prompt": _text(form, "prompt"),
        "label": _text(form, "label") or "production",
        "variants": [
            {
                "name": _text(form, "control_name") or "control",
                "version": _version(_text(form, "control_version"), "control_version"),
                "weight": _number(form, "control_weight", 50.0),
            },
            {
                "name": _text(form, "treatment_name") or "treatment",
                "version": _version(_text(form, "treatment_version"), "treatment_version"),
                "weight": _number(form, "treatment_weight", 50.0),
            },
        ],
        "primary_metric": metric,
        "guardrails": guardrails,
        "description": _text(form, "description"),
    }


@router.get(NEW_URL)
def new_experiment(request: Request, user: UserDep, prompt: str = "") -> Response:
    """The form for a new experiment (``prompt`` pre-filled from a prompt's page)."""
    require_permission(user, Permission.WRITE)
    return page(request, "experiment_new.html", {"form": {"prompt": prompt}, "kinds": _KINDS})


@router.post(NEW_URL)
async def create_experiment(
    request: Request, vault: VaultDep, settings: SettingsDep, user: UserDep
) -> Response:
    """Create the experiment (and start it when asked), or show the form with the error."""
    form = await checked_form(request, user, Permission.WRITE)
    name = _text(form, "name")
    start = form.get("start") == "1"
    spec = definition(form)
    check_labels(user.key, [spec["label"]], settings.protected_labels)
    made = await run_in_threadpool(
        lambda: vault.experiments.create(name, actor=user.key.name, start=start, **spec)
    )
    text = f"Experiment {made.name} {'started' if start else 'created as a draft'}"
    return flash(redirect(experiment_url(made.name)), text)


async def _changeable(request: Request, name: str, vault: Any, settings: Any, user: User) -> Any:
    form = await checked_form(request, user, Permission.WRITE)
    exp = await run_in_threadpool(vault.experiments.get, name)
    check_labels(user.key, [exp.label], settings.protected_labels)
    return form


@router.post("/experiments/{name}/start")
async def start(
    request: Request, name: str, vault: VaultDep, settings: SettingsDep, user: UserDep
) -> Response:
    """Start routing (a draft, or a stopped experiment again)."""
    await _changeable(request, name, vault, settings, user)
    exp = await run_in_threadpool(lambda: vault.experiments.start(name, actor=user.key.name))
    return flash(redirect(experiment_url(name)), f"Experiment {exp.name} started")


@router.post("/experiments/{name}/ramp")
async def ramp(
    request: Request, name: str, vault: VaultDep, settings: SettingsDep, user: UserDep
) -> Response:
    """New weights, one field per variant (``weight_<variant>``)."""
    form = await _changeable(request, name, vault, settings, user)
    exp = await run_in_threadpool(vault.experiments.get, name)
    weights = {
        v.name: _number(form, f"weight_{v.name}", v.weight)
        for v in exp.variants
        if _text(form, f"weight_{v.name}")
    }
    if not weights:
        raise InvalidInputError("give at least one new weight", details={"field": "weights"})
    done = await run_in_threadpool(
        lambda: vault.experiments.ramp(name, weights, actor=user.key.name)
    )
    split = ", ".join(f"{v.name} {v.weight:g}" for v in done.variants)
    return flash(redirect(experiment_url(name)), f"Weights of {name} now {split}")
