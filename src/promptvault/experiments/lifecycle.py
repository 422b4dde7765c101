"""Experiment state changes that touch the label, each inside the caller's write transaction.

An experiment borrows its label: while it runs, units in it get their variant's version
instead of the label's. So the rules that keep the label honest live here:

* **start**: control must be the version the label serves at that moment (else the
  "control" arm would be a second treatment, and an automatic stop that restores control
  would move the label); the label's version and who started are remembered.
* **conclude**: the experiment ends and the label moves to the winner in one transaction.
* **automatic stop**: the experiment ends and the label goes back to the version it
  held when the experiment started, never a variant's, attributed to the guardrail on
  behalf of whoever started the experiment.

The label itself is moved by the registry (``move_label``, its ``move_label_in``), which
refuses moves of a label an experiment is still running on; so each function here marks the
experiment as not running (and flushes) before it moves the label.

Each function takes the transaction's unit of work and the experiment as stored
(:class:`Stored`, re-read inside that transaction), and changes it only through
``work.experiments.update``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from promptvault.errors import ExperimentStateError, PromptNotFound
from promptvault.experiments.models import Experiment
from promptvault.storage.unit_of_work import UnitOfWork, utcnow

__all__ = [
    "LabelMover",
    "Stored",
    "auto_stop",
    "conclude",
    "ensure_status",
    "start",
    "target",
]

LabelMover = Callable[..., Any]
"""``move_label(work, prompt, label, version, *, actor, cause)`` (the registry's)."""


class Stored(NamedTuple):
    """An experiment as one transaction read it: its key and its fields."""

    id: int
    experiment: Experiment


def target(name: str) -> str:
    """The audit target of an experiment."""
    return f"experiment:{name}"


def ensure_status(exp: Experiment, action: str, allowed: Iterable[str]) -> None:
    """Refuse ``action`` unless the experiment is in one of the ``allowed`` states."""
    if exp.status not in allowed:
        raise ExperimentStateError(
            f"cannot {action} experiment {exp.name!r}: it is {exp.status}",
            details={"field": "status", "status": exp.status, "action": action},
        )


def _prompt_id(work: UnitOfWork, exp: Experiment) -> int:
    prompt = work.prompts.get(exp.prompt)
    if prompt is None:  # prompts are never deleted under an experiment; kept for clarity
        raise PromptNotFound(f"no prompt named {exp.prompt!r}", details={"field": "prompt"})
    return prompt.id


def start(work: UnitOfWork, stored: Stored, *, actor: str, at: datetime | None = None) -> None:
    """Start routing (a draft, or a stopped experiment again); see the module notes.

    ``at`` backdates the first start (history recorded elsewhere, the demo's simulated
    week); a restart keeps the first start's time."""
    exp = stored.experiment
    ensure_status(exp, "start", ("draft", "stopped"))
    prompt_id = _prompt_id(work, exp)
    other = work.experiments.running_on_label(prompt_id, exp.label)
    if other is not None:
        raise ExperimentStateError(
            f"experiment {other!r} is already running on this prompt and label "
            f"{exp.label!r}: stop it first",
            details={"field": "status", "running": other, "label": exp.label},
        )
    prompt = exp.prompt
    serving = work.prompts.labels(prompt_id).get(exp.label)
    control = work.experiments.control_version(stored.id)
    if serving is None:
        raise ExperimentStateError(
            f"label {exp.label!r} of {prompt!r} points at no version: point it at control's "
            f"version {control} before starting experiment {exp.name!r}",
            details={"field": "label", "label": exp.label, "control": control},
        )
    if serving != control:
        raise ExperimentStateError(
            f"control of experiment {exp.name!r} serves version {control}, but label "
            f"{exp.label!r} of {prompt!r} serves version {serving}: control must be the "
            f"version the label serves when the experiment starts",
            details={
                "field": "variants[0].version",
                "label": exp.label,
                "control": control,
                "label_version": serving,
            },
        )
    now = utcnow()
    work.experiments.update(
        stored.id,
        status="running",
        running_slot=work.experiments.running_slot(prompt_id, exp.label),
        stopped_at=None,
        started_at=exp.started_at or at or now,
        started_by=actor,
        label_version=serving,
    )
    work.audit(
        actor=actor,
        action="experiment.start",
        target=target(exp.name),
        details={
            "label": exp.label,
            "label_version": serving,
            **({"started_at": at.isoformat()} if at and not exp.started_at else {}),
        },
        at=now,
    )


def conclude(
    work: UnitOfWork,
    stored: Stored,
    *,
    winner: str,
    version: int,
    actor: str,
    move_label: LabelMover,
) -> bool:
    """End the experiment and move its label to ``version``; True when the label moved."""
    exp = stored.experiment
    ensure_status(exp, "conclude", ("running", "stopped"))
    work.experiments.update(
        stored.id,
        status="concluded",
        running_slot=None,
        stopped_at=exp.stopped_at or utcnow(),
        decision={"action": "conclude", "winner": winner, "version": version, "label": exp.label},
    )
    work.flush()
    moved = move_label(
        work,
        exp.prompt,
        exp.label,
        version,
        actor=actor,
        cause={"experiment": exp.name, "action": "conclude", "winner": winner},
    )
    work.audit(
        actor=actor,
        action="experiment.conclude",
        target=target(exp.name),
        details={"winner": winner, "version": version, "label": exp.label},
    )
    return moved is not None


def auto_stop(
    work: UnitOfWork,
    stored: Stored,
    *,
    reasons: Iterable[str],
    details: Iterable[Mapping[str, object]],
    actor: str,
    requested_by: str,
    move_label: LabelMover,
) -> bool:
    """Stop a running experiment for ``reasons`` and restore its label; False when it was
    no longer running (someone else stopped it meanwhile)."""
    exp = stored.experiment
    if exp.status != "running":
        return False
    reasons, details = list(reasons), [dict(d) for d in details]
    work.experiments.update(
        stored.id,
        status="stopped",
        running_slot=None,
        stopped_at=utcnow(),
        decision={
            "action": "stop",
            "auto": True,
            "reason": "; ".join(reasons),
            "details": details,
        },
    )
    work.flush()
    on_behalf_of = {"on_behalf_of": exp.started_by}
    if requested_by:
        on_behalf_of["requested_by"] = requested_by
    restored: dict[str, Any] | None = None
    if exp.label_version is not None:
        moved = move_label(
            work,
            exp.prompt,
            exp.label,
            exp.label_version,
            actor=actor,
            cause={"experiment": exp.name, "action": "auto_stop", **on_behalf_of},
        )
        if moved is not None:
            restored = {"label": exp.label, "from": moved.from_version, "to": moved.to_version}
    work.audit(
        actor=actor,
        action="experiment.auto_stop",
        target=target(exp.name),
        details={
            "reasons": reasons,
            "details": details,
            **on_behalf_of,
            **({"restored": restored} if restored else {}),
        },
    )
    return True
