"""Experiment pages: the list, the report with its charts, and stop / conclude with confirmation.

Permissions are the REST API's (:mod:`promptvault.server.api.experiments`): any signed-in
role reads; stopping and concluding need ``write`` and, when the experiment's label is
protected (``production``), the right to move protected labels.
The pages offer only what the role allows, and every POST checks again, after its CSRF
token. State changes go through the experiments service, which audits them with the
signed-in key's name as the actor.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from promptvault.errors import InvalidInputError, PromptVaultError
from promptvault.experiments.models import Experiment
from promptvault.server.auth import Permission, check_conclusion, check_labels
from promptvault.server.deps import SettingsDep, VaultDep
from promptvault.server.ui.experiment_view import MODES, report_view, weight_shares
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
from promptvault.vault import Vault

__all__ = ["STATUSES", "experiment_url", "router"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)
STATUSES = ("draft", "running", "stopped", "concluded")
_MAX_REASON = 2000


def experiment_url(name: str, action: str = "") -> str:
    """The URL of an experiment's page (or of one of its actions: ``stop``, ``conclude``)."""
    base = f"/experiments/{quote(name, safe='')}"
    return f"{base}/{action}" if action else base


def _may_change(user: User, exp: Experiment, protected: list[str]) -> bool:
    return user.can_write and (user.can_protected or exp.label not in protected)


def may_stop(user: User, exp: Experiment, protected: list[str]) -> bool:
    """Whether the page offers "Stop": ``write``, plus admin for a protected label."""
    return exp.status == "running" and _may_change(user, exp, protected)


def may_conclude(user: User, exp: Experiment, protected: list[str]) -> bool:
    """Whether the page offers "Conclude": ``write``, plus admin for a protected label."""
    return exp.status in ("running", "stopped") and _may_change(user, exp, protected)


def _check_change(user: User, exp: Experiment, protected: list[str]) -> None:
    require_permission(user, Permission.WRITE)
    check_labels(user.key, [exp.label], protected)


def _winner(exp: Experiment, value: object) -> str:
    winner = str(value or "").strip()
    if not winner:
        raise InvalidInputError("choose the winning variant", details={"field": "winner"})
    if exp.variant(winner) is None:
        raise InvalidInputError(
            f"experiment {exp.name!r} has no variant {winner!r}",
            details={"field": "winner", "variants": [v.name for v in exp.variants]},
        )
    return winner


def _rows(experiments: list[Experiment]) -> list[dict[str, Any]]:
    out = []
    for exp in experiments:
        shares = weight_shares(exp)
        out.append(
            {
                "exp": exp,
                "variants": [(v, f"{shares[v.name] * 100:.0f}%") for v in exp.variants],
            }
        )
    return out


@router.get("/experiments")
def experiment_list(
    *,
    request: Request,
    vault: VaultDep,
    user: UserDep,
    prompt: str = "",
    status: str = "",
) -> Response:
    """Experiments newest first, optionally of one prompt and in one status."""
    status = status.strip()
    if status and status not in STATUSES:
        raise InvalidInputError(
            f"status must be one of {', '.join(STATUSES)}", details={"field": "status"}
        )
    prompt = prompt.strip()
    found = vault.experiments.list(prompt=prompt or None, status=status or None)
    return page(
        request,
        "experiments.html",
        {
            "rows": _rows(found),
            "filters": {"prompt": prompt, "status": status},
            "statuses": STATUSES,
            "experiment_url": experiment_url,
        },
    )


def _label_now(vault: Vault, exp: Experiment) -> int | None:
    try:
        return vault.labels(exp.prompt).get(exp.label)
    except PromptVaultError:
        return None


@router.get("/experiments/{name}")
def experiment_page(
    *,
    request: Request,
    name: str,
    vault: VaultDep,
    settings: SettingsDep,
    user: UserDep,
    mode: str = "sequential",
) -> Response:
    """One experiment: split check first, then per metric the report table and a chart."""
    if mode not in MODES:
        raise InvalidInputError(
            f"mode must be one of {', '.join(MODES)}", details={"field": "mode", "value": mode}
        )
    report = vault.experiments.report(name, mode=mode)  # type: ignore[arg-type]
    exp = report.experiment
    shares = weight_shares(exp)
    view = report_view(report)
    primary = view.metrics[0].rows if view.metrics else ()
    best = {r.variant: r.best for r in primary}
    # The conclude form suggests the variant most likely to be best on the primary metric.
    suggested = exp.control.name
    top = max(
        (r for r in primary if r.verdict == "better"),
        key=lambda r: r.beat_value or 0.0,
        default=None,
    )
    if top is not None:
        suggested = top.variant
    variants = [
        {
            "v": v,
            "share": f"{shares[v.name] * 100:.1f}%",
            "units": report.units.get(v.name, 0),
            "exposures": report.exposures.get(v.name, 0),
            "random": report.random_exposures.get(v.name, 0),
            "best": best.get(v.name, "—"),
        }
        for v in exp.variants
    ]
    return page(
        request,
        "experiment.html",
        {
            "exp": exp,
            "report": report,
            "view": view,
            "variants": variants,
            "any_random": any(report.random_exposures.values()),
            "modes": MODES,
            "label_now": _label_now(vault, exp),
            "suggested": suggested,
            "can_stop": may_stop(user, exp, settings.protected_labels),
            "can_conclude": may_conclude(user, exp, settings.protected_labels),
            "can_start": exp.status in ("draft", "stopped")
            and _may_change(user, exp, settings.protected_labels),
            "protected": set(settings.protected_labels),
            "experiment_url": experiment_url,
        },
    )


@router.get("/experiments/{name}/stop")
def stop_confirm(
    *, request: Request, name: str, vault: VaultDep, settings: SettingsDep, user: UserDep
) -> Response:
    """Confirm stopping: who gets what afterwards, and a reason for the record."""
    require_permission(user, Permission.WRITE)
    exp = vault.experiments.get(name)
    _check_change(user, exp, settings.protected_labels)
    return page(
        request,
        "experiment_confirm.html",
        {
            "action": "stop",
            "exp": exp,
            "winner": None,
            "label_now": _label_now(vault, exp),
            "experiment_url": experiment_url,
        },
    )


@router.post("/experiments/{name}/stop")
async def stop(
    request: Request, name: str, vault: VaultDep, settings: SettingsDep, user: UserDep
) -> Response:
    """Stop routing (the same checks as ``POST /v1/experiments/{name}/stop``)."""
    form = await checked_form(request, user, Permission.WRITE)
    exp = await run_in_threadpool(vault.experiments.get, name)
    _check_change(user, exp, settings.protected_labels)
    reason = str(form.get("reason") or "").strip()
    if len(reason) > _MAX_REASON:
        raise InvalidInputError(
            f"the reason is longer than {_MAX_REASON} characters", details={"field": "reason"}
        )
    exp = await run_in_threadpool(vault.experiments.stop, name, actor=user.key.name, reason=reason)
    return flash(redirect(experiment_url(name)), f"Experiment {exp.name} stopped")


@router.get("/experiments/{name}/conclude")
def conclude_confirm(
    *,
    request: Request,
    name: str,
    vault: VaultDep,
    settings: SettingsDep,
    user: UserDep,
    winner: str = "",
) -> Response:
    """Confirm concluding: the label move it makes (from which version to which)."""
    exp = vault.experiments.get(name)
    _check_change(user, exp, settings.protected_labels)
    chosen = exp.variant(_winner(exp, winner))
    return page(
        request,
        "experiment_confirm.html",
        {
            "action": "conclude",
            "exp": exp,
            "winner": chosen,
            "label_now": _label_now(vault, exp),
            "experiment_url": experiment_url,
        },
    )


@router.post("/experiments/{name}/conclude")
async def conclude(
    request: Request, name: str, vault: VaultDep, settings: SettingsDep, user: UserDep
) -> Response:
    """Move the label to the winner and end the experiment (the API's checks)."""
    form = await checked_form(request, user, Permission.WRITE)
    exp = await run_in_threadpool(vault.experiments.get, name)
    _check_change(user, exp, settings.protected_labels)
    winner = _winner(exp, form.get("winner"))
    held = exp.label_version if exp.label_version is not None else exp.control.version
    check_conclusion(exp.label, held, exp.variant(winner).version, settings.approval_labels)  # type: ignore[union-attr]
    done = await run_in_threadpool(vault.experiments.conclude, name, winner, actor=user.key.name)
    version = exp.variant(winner).version  # type: ignore[union-attr]
    text = f"Experiment {done.name} concluded: {exp.label} now serves {winner} (v{version})"
    return flash(redirect(experiment_url(name)), text)
