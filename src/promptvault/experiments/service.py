"""The experiments service: definitions, lifecycle, routing, events, checks and reports.

::

    exp = vault.experiments.create(
        "support-tone", prompt="customer_support",
        variants=[{"name": "control", "version": 1, "weight": 90},
                  {"name": "friendly", "version": 2, "weight": 10}],
        primary_metric={"name": "resolved", "kind": "binary"},
        guardrails=[{"name": "escalated", "kind": "binary", "direction": "lower"}],
    )
    vault.experiments.start("support-tone")
    vault.get("customer_support", unit_id="u42")        # .experiment / .variant set
    vault.experiments.record_outcome("support-tone", "u42", "resolved", 1)
    vault.experiments.report("support-tone")

Lifecycle: ``draft -> running -> stopped -> concluded`` (a stopped experiment may start
again; ``conclude`` also works on a running one). Every change appends an audit entry in
its own transaction. At most one experiment runs per prompt and label (checked under the
write lock and backed by a unique column); control must be the version the label serves
when it starts (:mod:`.lifecycle`). This package does not import the registry: the Vault
hands in ``fetch_version`` (resolve ``name@N``), ``move_label`` (the registry's audited
``move_label_in``, run inside this service's transaction by ``conclude`` and the automatic
stop) and ``label_moved`` (invalidates cached pointers after the commit).

Who may change an experiment is the caller's concern: the server asks for the right to move
the experiment's label (admin for a protected label) for every change.
"""

from __future__ import annotations

import builtins
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from promptvault.config import Settings
from promptvault.entities import PromptVersion
from promptvault.errors import (
    ConflictError,
    ExperimentNotFound,
    ExperimentStateError,
    InvalidInputError,
    PromptNotFound,
)
from promptvault.experiments import lifecycle
from promptvault.experiments.assignment import Assigner
from promptvault.experiments.buffer import EventBuffer
from promptvault.experiments.definitions import check_definition, version_number
from promptvault.experiments.events import EventsMixin
from promptvault.experiments.guard import summary
from promptvault.experiments.lifecycle import LabelMover, Stored, ensure_status, target
from promptvault.experiments.models import (
    CheckResult,
    Experiment,
    ExperimentReport,
    Guardrail,
    Metric,
    Variant,
)
from promptvault.experiments.routing import Router
from promptvault.storage.database import Database
from promptvault.storage.unit_of_work import UnitOfWork, utcnow

__all__ = ["BANDIT_ACTOR", "GUARDRAIL_ACTOR", "ExperimentService"]

log = logging.getLogger("promptvault.experiments")

GUARDRAIL_ACTOR = "promptvault guardrail"
BANDIT_ACTOR = "promptvault bandit"


def _experiment(data: dict[str, Any]) -> Experiment:
    return Experiment.model_validate({k: v for k, v in data.items() if k != "id"})


class ExperimentService(EventsMixin):
    """Experiments over one database; built by the Vault, which wires in the registry."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        fetch_version: Callable[[str, int], PromptVersion],
        move_label: LabelMover,
        label_moved: Callable[[str], None],
        clock: Callable[[], float] | None = None,
        check_every: int = 1000,
        buffer_size: int = 1000,
        flush_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.settings = settings
        self._move_label = move_label
        self._label_moved = label_moved
        self.check_every = check_every
        self._since_check: Counter[str] = Counter()
        self.buffer = EventBuffer(self._write_buffered, size=buffer_size, interval=flush_interval)
        self.router = Router(
            self._load_running,
            fetch_version,
            self.buffer,
            ttl=settings.label_ttl,
            clock=clock,
        )

    # --- reading definitions -----------------------------------------------------------

    @staticmethod
    def _entity(work: UnitOfWork, name: str) -> Experiment:
        data = work.experiments.load(name)
        if data is None:
            raise ExperimentNotFound(
                f"no experiment named {name!r}", details={"field": "name", "name": name}
            )
        return _experiment(data)

    def get(self, name: str) -> Experiment:
        """One experiment by name (raises ExperimentNotFound)."""
        with self.db.read_work() as work:
            return self._entity(work, name)

    def list(
        self, *, prompt: str | None = None, status: str | None = None
    ) -> builtins.list[Experiment]:
        """Experiments newest first, optionally of one prompt and/or one status."""
        with self.db.read_work() as work:
            found = work.experiments.find(prompt=prompt, status=status)
        return [_experiment(d) for d in found]

    def running(self, prompt: str, label: str | None = None) -> builtins.list[Experiment]:
        """The running experiments of a prompt (of one label: at most one)."""
        with self.db.read_work() as work:
            found = work.experiments.running(prompt, label)
        return [_experiment(d) for d in found]

    def _load_running(self, prompt: str, label: str) -> Experiment | None:
        found = self.running(prompt, label)
        return found[0] if found else None

    # --- create --------------------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        prompt: str,
        variants: Sequence[Mapping[str, Any] | Variant],
        primary_metric: Mapping[str, Any] | Metric,
        label: str = "production",
        coverage: float = 1.0,
        unit_type: str = "user",
        seed: str | None = None,
        guardrails: Sequence[Mapping[str, Any] | Guardrail] = (),
        metrics: Sequence[Mapping[str, Any] | Metric] = (),
        description: str = "",
        actor: str = "",
        start: bool = False,
        allocation: str = "fixed",
        floor: float = 0.05,
    ) -> Experiment:
        """Create a draft experiment (and with ``start``, start it in the same transaction).

        Each variant is ``{"name", "version", "weight"}`` (control first); ``version`` is
        a number or a label of the prompt (``"staging"``, ``"latest"``), resolved now and
        stored as a number. ``seed`` defaults to the experiment name. With ``start``, a
        start that fails leaves nothing behind (no draft). ``allocation="bandit"`` lets
        :meth:`reallocate` move traffic to the better arms (at least ``floor`` each).
        """
        spec = check_definition(
            name,
            variants=variants,
            primary_metric=primary_metric,
            label=label,
            coverage=coverage,
            unit_type=unit_type,
            seed=seed,
            guardrails=guardrails,
            metrics=metrics,
            description=description,
            allocation=allocation,
            floor=floor,
        )

        def create_in(work: UnitOfWork) -> Experiment:
            if work.experiments.load(name) is not None:
                raise ConflictError(
                    f"an experiment named {name!r} already exists",
                    details={"field": "name", "name": name},
                )
            found = work.prompts.get(prompt)
            if found is None:
                raise PromptNotFound(
                    f"no prompt named {prompt!r}", details={"field": "prompt", "name": prompt}
                )
            resolved = [
                {**v, "version": version_number(work.prompts, found, v["version"], i)}
                for i, v in enumerate(spec.pop("variants"))
            ]
            exp_id = work.experiments.insert(
                variants=resolved,
                name=name,
                prompt_id=found.id,
                status="draft",
                running_slot=None,
                epoch=0,
                decision=None,
                created_at=utcnow(),
                created_by=actor,
                **spec,
            )
            work.experiments.insert_phase(
                exp_id,
                epoch=0,
                weights=[float(v["weight"]) for v in resolved],
                at=utcnow(),
                actor=actor,
                reason="create",
            )
            audited = {k: spec[k] for k in ("label", "coverage", "unit_type", "guardrails")}
            work.audit(
                actor=actor,
                action="experiment.create",
                target=target(name),
                details={
                    "prompt": prompt,
                    "variants": resolved,
                    "primary_metric": spec["primary_metric"],
                    **audited,
                },
            )
            if start:
                lifecycle.start(work, Stored(exp_id, self._entity(work, name)), actor=actor)
                work.flush()
            return self._entity(work, name)

        created = self.db.write_work(create_in)
        if start:
            self.router.invalidate()
        return created

    # --- lifecycle ---------------------------------------------------------------------

    @staticmethod
    def _stored(work: UnitOfWork, name: str) -> Stored:
        data = work.experiments.load(name)
        if data is None:
            raise ExperimentNotFound(
                f"no experiment named {name!r}", details={"field": "name", "name": name}
            )
        return Stored(int(data["id"]), _experiment(data))

    def _changed(self, name: str, fn: Callable[[UnitOfWork, Stored], None]) -> Experiment:
        def change_in(work: UnitOfWork) -> Experiment:
            fn(work, self._stored(work, name))
            work.flush()
            return self._entity(work, name)

        result = self.db.write_work(change_in)
        self.router.invalidate()
        return result

    def start(self, name: str, *, actor: str = "", at: datetime | None = None) -> Experiment:
        """Start routing traffic (a draft, or a stopped experiment again).

        Refused (``experiment_state``) unless control's version is the one the label
        serves now; that version is remembered, and an automatic stop restores it. ``at``
        backdates the first start (events recorded elsewhere since then are ingested
        afterwards); it may not lie in the future (naive values are UTC).
        """
        if at is not None:
            if not isinstance(at, datetime):
                raise InvalidInputError("at must be a datetime", details={"field": "at"})
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            if at > utcnow():
                raise InvalidInputError("a start cannot lie in the future", details={"field": "at"})
        return self._changed(
            name, lambda work, stored: lifecycle.start(work, stored, actor=actor, at=at)
        )

    def ramp(
        self, name: str, weights: Mapping[str, float] | Sequence[float], *, actor: str = ""
    ) -> Experiment:
        """Change weights (by variant name, or a list in variant order).

        Assignment moves as few units as possible (see :mod:`.assignment`); a new weight
        epoch starts, so the split check compares only units that arrived under the new
        weights.
        """
        exp = self.get(name)
        names = [v.name for v in exp.variants]
        if isinstance(weights, Mapping):
            unknown = sorted(set(weights) - set(names))
            if unknown:
                raise InvalidInputError(
                    f"unknown variants {unknown}", details={"field": "weights", "unknown": unknown}
                )
            new = {v.name: weights.get(v.name, v.weight) for v in exp.variants}
        else:
            if len(weights) != len(names):
                raise InvalidInputError(
                    f"{len(names)} weights expected", details={"field": "weights"}
                )
            new = dict(zip(names, weights, strict=True))
        Assigner(exp.seed, names, list(new.values()), coverage=exp.coverage)
        new = {k: float(v) for k, v in new.items()}

        def change(work: UnitOfWork, stored: Stored) -> None:
            ensure_status(stored.experiment, "ramp", ("draft", "running"))
            work.experiments.replace_weights(stored.id, new)
            epoch = stored.experiment.epoch + 1
            work.experiments.update(stored.id, epoch=epoch)
            work.experiments.insert_phase(
                stored.id,
                epoch=epoch,
                weights=[new[n] for n in names],
                at=utcnow(),
                actor=actor,
                reason="ramp",
            )
            work.audit(
                actor=actor,
                action="experiment.ramp",
                target=target(name),
                details={"from": {v.name: v.weight for v in exp.variants}, "to": new},
            )

        return self._changed(name, change)

    def reallocate(self, name: str, *, actor: str = BANDIT_ACTOR) -> Experiment:
        """Recompute a running bandit's weights by Thompson sampling (:mod:`.bandit`).

        Reads the primary metric's sufficient statistics; when the weights change, stores
        them as a new phase and audits ``experiment.reallocate`` (from, to, the posterior
        probabilities). Refused (``experiment_state``) unless the experiment is a running
        bandit. The server calls it every ``bandit_interval`` seconds.
        """
        from promptvault.experiments import bandit  # numpy: only here

        self.flush()
        exp, _, totals = self._totals(name)
        if exp.allocation != "bandit":
            raise ExperimentStateError(
                f"experiment {name!r} has fixed weights: only a bandit is reallocated",
                details={"field": "allocation", "allocation": exp.allocation},
            )
        ensure_status(exp, "reallocate", ("running",))
        metric = exp.primary_metric
        summaries = [summary(totals, i, metric.name) for i in range(len(exp.variants))]
        weights = bandit.thompson_weights(
            metric.kind,
            summaries,
            floor=exp.floor,
            rng=bandit.generator(exp.seed, exp.epoch),
            lower=metric.direction == "lower",
        )
        names = [v.name for v in exp.variants]
        old = [v.weight for v in exp.variants]
        total = sum(old) or 1.0
        if all(abs(w - o / total) < 0.0005 for w, o in zip(weights, old, strict=True)):
            return exp
        new = dict(zip(names, weights, strict=True))

        def change(work: UnitOfWork, stored: Stored) -> None:
            ensure_status(stored.experiment, "reallocate", ("running",))
            if stored.experiment.epoch != exp.epoch:
                return  # reallocated meanwhile (another server): that one stands
            work.experiments.replace_weights(stored.id, new)
            epoch = exp.epoch + 1
            work.experiments.update(stored.id, epoch=epoch)
            work.experiments.insert_phase(
                stored.id, epoch=epoch, weights=weights, at=utcnow(), actor=actor, reason="bandit"
            )
            work.audit(
                actor=actor,
                action="experiment.reallocate",
                target=target(name),
                details={
                    "from": dict(zip(names, old, strict=True)),
                    "to": new,
                    "metric": metric.name,
                    "units": {n: s.n for n, s in zip(names, summaries, strict=True)},
                },
            )

        return self._changed(name, change)

    def reallocate_all(self, *, actor: str = BANDIT_ACTOR) -> builtins.list[Experiment]:
        """:meth:`reallocate` every running bandit; one failing does not stop the others."""
        done = []
        for exp in self.list(status="running"):
            if exp.allocation != "bandit":
                continue
            try:
                done.append(self.reallocate(exp.name, actor=actor))
            except Exception:  # the next round retries; the others still get theirs
                log.exception("reallocating %s failed", exp.name)
        return done

    def phases(self, name: str) -> builtins.list[dict[str, Any]]:
        """The weights over time: ``{"epoch", "weights" (by variant), "started_at",
        "actor", "reason"}`` per phase, oldest first."""
        with self.db.read_work() as work:
            data = work.experiments.load(name)
            if data is None:
                raise ExperimentNotFound(
                    f"no experiment named {name!r}", details={"field": "name", "name": name}
                )
            history = work.experiments.phases(int(data["id"]))
        names = [v["name"] for v in data["variants"]]
        return [{**p, "weights": dict(zip(names, p["weights"], strict=True))} for p in history]

    def stop(self, name: str, *, actor: str = "", reason: str = "") -> Experiment:
        """Stop routing: the label's own version serves everyone again."""

        def change(work: UnitOfWork, stored: Stored) -> None:
            ensure_status(stored.experiment, "stop", ("running",))
            work.experiments.update(
                stored.id,
                status="stopped",
                running_slot=None,
                stopped_at=utcnow(),
                decision={"action": "stop", "auto": False, "reason": reason},
            )
            work.audit(
                actor=actor,
                action="experiment.stop",
                target=target(name),
                details={"reason": reason},
            )

        return self._changed(name, change)

    def conclude(self, name: str, winner: str, *, actor: str = "") -> Experiment:
        """Move the experiment's label to the winner's version and end the experiment.

        Both happen in one transaction; the label move is the registry's (its own
        ``label.set`` audit entry, naming the experiment as its cause). Who may move a
        protected label is the caller's concern (the server asks for admin).
        """
        exp = self.get(name)
        chosen = exp.variant(winner)
        if chosen is None:
            raise InvalidInputError(
                f"experiment {name!r} has no variant {winner!r}",
                details={"field": "winner", "variants": [v.name for v in exp.variants]},
            )
        version = chosen.version

        def change(work: UnitOfWork, stored: Stored) -> None:
            lifecycle.conclude(
                work,
                stored,
                winner=winner,
                version=version,
                actor=actor,
                move_label=self._move_label,
            )

        result = self._changed(name, change)
        self._label_moved(exp.prompt)
        return result

    # --- checks and reports ----------------------------------------------------------------

    def _totals(self, name: str) -> tuple[Experiment, int, Any]:
        with self.db.read_work() as work:
            data = work.experiments.load(name)
            if data is None:
                raise ExperimentNotFound(
                    f"no experiment named {name!r}", details={"field": "name", "name": name}
                )
            exp_id = int(data.pop("id"))
            totals = work.experiments.stat_totals(exp_id)
        return Experiment.model_validate(data), exp_id, totals

    def check(
        self,
        name: str,
        *,
        actor: str = GUARDRAIL_ACTOR,
        flush: bool = True,
        requested_by: str = "",
    ) -> CheckResult:
        """Apply the stop rules (:mod:`.guard`); stop the experiment when one fires.

        A stop is audited (``experiment.auto_stop`` with the reasons, on behalf of whoever
        started the experiment, and ``requested_by`` when someone asked for this check) and
        traffic goes back to what the label served before the experiment: the experiment no
        longer routes, and the label returns to the version it held when the experiment
        started if it points elsewhere (never to a variant's version).
        """
        from promptvault.experiments.guard import evaluate  # numpy: only when checking

        if flush:
            self.flush()
        exp, _, totals = self._totals(name)
        if exp.status != "running":
            return CheckResult(experiment=name, status=exp.status)
        with self.db.read_work() as work:
            mismatched = work.experiments.rejections(name).get("variant_mismatch", 0)
        verdict = evaluate(exp, totals, mismatched=mismatched)
        if not verdict.reasons:
            return CheckResult(
                experiment=name,
                status=exp.status,
                srm_p_value=verdict.srm_p_value,
                units=verdict.units,
                notes=verdict.notes,
            )
        stopped = [False]

        def change(work: UnitOfWork, stored: Stored) -> None:
            stopped[0] = lifecycle.auto_stop(
                work,
                stored,
                reasons=verdict.reasons,
                details=verdict.details,
                actor=actor,
                requested_by=requested_by,
                move_label=self._move_label,
            )

        after = self._changed(name, change)
        if stopped[0]:
            self._label_moved(exp.prompt)
        return CheckResult(
            experiment=name,
            status=after.status,
            stopped=stopped[0],
            reasons=verdict.reasons,
            srm_p_value=verdict.srm_p_value,
            units=verdict.units,
            notes=verdict.notes,
        )

    def check_all(self, *, actor: str = GUARDRAIL_ACTOR) -> builtins.list[CheckResult]:
        """:meth:`check` every running experiment."""
        self.flush()
        return [self.check(e.name, actor=actor, flush=False) for e in self.list(status="running")]

    def report(
        self,
        name: str,
        *,
        mode: Literal["fixed", "sequential"] = "sequential",
        alpha: float = 0.05,
    ) -> ExperimentReport:
        """The analysis of the stored sufficient statistics (sequential by default)."""
        from promptvault.experiments.phases import phase_data  # numpy: only here
        from promptvault.experiments.report_assembly import build_report

        self.flush()
        with self.db.read_work() as work:
            data = work.experiments.load(name)
            if data is None:
                raise ExperimentNotFound(
                    f"no experiment named {name!r}", details={"field": "name", "name": name}
                )
            exp_id = int(data.pop("id"))
            exp = Experiment.model_validate(data)
            totals = work.experiments.stat_totals(exp_id)
            days = {m.name: work.experiments.stat_days(exp_id, m.name) for m in exp.all_metrics()}
            rejected = work.experiments.rejections(name)
            history = work.experiments.phases(exp_id)
            grouped = work.experiments.phase_stats(exp_id) if exp.epoch > 0 else None
        by_phase, note = None, None
        if grouped is not None:
            weights = [p["weights"] for p in history]
            if [p["epoch"] for p in history] == list(range(exp.epoch + 1)):
                metrics = [m.name for m in exp.all_metrics()]
                by_phase = phase_data(weights, grouped[0], grouped[1], metrics)
            else:
                note = (
                    "the weight history before the current phase is incomplete, so the "
                    "phases could not be analysed apart: the comparisons pool every unit"
                )
        return build_report(
            exp,
            totals,
            days,
            rejected,
            mode=mode,
            alpha=alpha,
            phases=by_phase,
            history_note=note,
            history=history,
        )

    def recompute(self, name: str) -> dict[tuple[str, str], tuple[int, float, float]]:
        """Totals recomputed from raw events, ``{(variant, metric): (n, sum, sum_sq)}``.

        For audits: they equal the stored sufficient statistics (up to float rounding).
        """
        self.flush()
        exp, exp_id, _ = self._totals(name)
        with self.db.read_work() as work:
            raw = work.experiments.recompute_stats(exp_id)
        names = [v.name for v in exp.variants]
        return {(names[v], m): value for (v, m), value in raw.items()}

    def stored_totals(self, name: str) -> dict[tuple[str, str], tuple[int, float, float]]:
        """The stored sufficient statistics, ``{(variant, metric): (n, sum, sum_sq)}``."""
        self.flush()
        exp, _, totals = self._totals(name)
        names = [v.name for v in exp.variants]
        return {(names[v], m): value for (v, m), value in totals.items() if "@" not in m}

    # --- routing -----------------------------------------------------------------------------

    def route(self, found: PromptVersion, unit_id: str | None) -> PromptVersion:
        """``found`` as seen by ``unit_id`` through a running experiment on its label."""
        return self.router.route(found, unit_id)

    def close(self) -> None:
        """Write the queued events and stop the background writer."""
        self.buffer.close()
