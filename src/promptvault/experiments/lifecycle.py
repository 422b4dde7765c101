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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from promptvault.errors import ExperimentStateError
from promptvault.storage import experiments as store
from promptvault.storage import repositories as repo
from promptvault.storage.audit import append
from promptvault.storage.tables import ExperimentRow, PromptRow, utcnow

__all__ = [
    "LabelMover",
    "auto_stop_row",
    "conclude_row",
    "ensure_status",
    "start_row",
    "target",
]

LabelMover = Callable[..., Any]
"""``move_label(session, prompt, label, version, *, actor, cause)`` (the registry's)."""


def target(name: str) -> str:
    """The audit target of an experiment."""
    return f"experiment:{name}"


def ensure_status(row: ExperimentRow, action: str, allowed: Iterable[str]) -> None:
    """Refuse ``action`` unless the experiment is in one of the ``allowed`` states."""
    if row.status not in allowed:
        raise ExperimentStateError(
            f"cannot {action} experiment {row.name!r}: it is {row.status}",
            details={"field": "status", "status": row.status, "action": action},
        )


def _prompt_name(session: Session, row: ExperimentRow) -> str:
    prompt = session.get(PromptRow, row.prompt_id)
    return prompt.name if prompt is not None else str(row.prompt_id)


def start_row(session: Session, row: ExperimentRow, *, actor: str) -> None:
    """Start routing (a draft, or a stopped experiment again); see the module notes."""
    ensure_status(row, "start", ("draft", "stopped"))
    other = store.running_on_label(session, row.prompt_id, row.label)
    if other is not None:
        raise ExperimentStateError(
            f"experiment {other!r} is already running on this prompt and label "
            f"{row.label!r}: stop it first",
            details={"field": "status", "running": other, "label": row.label},
        )
    prompt = _prompt_name(session, row)
    serving = repo.labels_of(session, row.prompt_id).get(row.label)
    control = store.control_version(session, row.id)
    if serving is None:
        raise ExperimentStateError(
            f"label {row.label!r} of {prompt!r} points at no version: point it at control's "
            f"version {control} before starting experiment {row.name!r}",
            details={"field": "label", "label": row.label, "control": control},
        )
    if serving != control:
        raise ExperimentStateError(
            f"control of experiment {row.name!r} serves version {control}, but label "
            f"{row.label!r} of {prompt!r} serves version {serving}: control must be the "
            f"version the label serves when the experiment starts",
            details={
                "field": "variants[0].version",
                "label": row.label,
                "control": control,
                "label_version": serving,
            },
        )
    now = utcnow()
    row.status, row.running_slot, row.stopped_at = (
        "running",
        store.running_slot(row.prompt_id, row.label),
        None,
    )
    row.started_at = row.started_at or now
    row.started_by, row.label_version = actor, serving
    append(
        session,
        actor=actor,
        action="experiment.start",
        target=target(row.name),
        details={"label": row.label, "label_version": serving},
        at=now,
    )


def conclude_row(
    session: Session,
    row: ExperimentRow,
    *,
    winner: str,
    version: int,
    actor: str,
    move_label: LabelMover,
) -> bool:
    """End the experiment and move its label to ``version``; True when the label moved."""
    ensure_status(row, "conclude", ("running", "stopped"))
    row.status, row.running_slot = "concluded", None
    row.stopped_at = row.stopped_at or utcnow()
    row.decision = {"action": "conclude", "winner": winner, "version": version, "label": row.label}
    session.flush()
    moved = move_label(
        session,
        _prompt_name(session, row),
        row.label,
        version,
        actor=actor,
        cause={"experiment": row.name, "action": "conclude", "winner": winner},
    )
    append(
        session,
        actor=actor,
        action="experiment.conclude",
        target=target(row.name),
        details={"winner": winner, "version": version, "label": row.label},
    )
    return moved is not None


def auto_stop_row(
    session: Session,
    row: ExperimentRow,
    *,
    reasons: Iterable[str],
    details: Iterable[Mapping[str, object]],
    actor: str,
    requested_by: str,
    move_label: LabelMover,
) -> bool:
    """Stop a running experiment for ``reasons`` and restore its label; False when it was
    no longer running (someone else stopped it meanwhile)."""
    if row.status != "running":
        return False
    reasons, details = list(reasons), [dict(d) for d in details]
    row.status, row.running_slot, row.stopped_at = "stopped", None, utcnow()
    row.decision = {
        "action": "stop",
        "auto": True,
        "reason": "; ".join(reasons),
        "details": details,
    }
    session.flush()
    on_behalf_of = {"on_behalf_of": row.started_by}
    if requested_by:
        on_behalf_of["requested_by"] = requested_by
    restored: dict[str, Any] | None = None
    if row.label_version is not None:
        moved = move_label(
            session,
            _prompt_name(session, row),
            row.label,
            row.label_version,
            actor=actor,
            cause={"experiment": row.name, "action": "auto_stop", **on_behalf_of},
        )
        if moved is not None:
            restored = {"label": row.label, "from": moved.from_version, "to": moved.to_version}
    append(
        session,
        actor=actor,
        action="experiment.auto_stop",
        target=target(row.name),
        details={
            "reasons": reasons,
            "details": details,
            **on_behalf_of,
            **({"restored": restored} if restored else {}),
        },
    )
    return True
