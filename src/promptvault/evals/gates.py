"""Eval gates: promoting a version to a gated label needs a passing run of it.

A gate names a dataset, a minimum mean per evaluator and a significance level. A version
passes when its newest finished run on the dataset's current version reaches every
threshold and, against the newest finished run of the version the label holds on the same
dataset version, no thresholded evaluator is significantly worse. Rollbacks are not gated:
they exist to undo a bad promotion at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from promptvault.errors import InvalidInputError, NotFoundError
from promptvault.evals.datasets import load_dataset
from promptvault.evals.models import Comparison, Gate, GateResult, Run
from promptvault.storage.unit_of_work import utcnow

if TYPE_CHECKING:
    from promptvault.storage.database import Database
    from promptvault.storage.unit_of_work import UnitOfWork

__all__ = ["GatesMixin"]


class GatesMixin:
    """The gates half of :class:`~promptvault.evals.service.EvalService`."""

    _db: Database
    get_run: Callable[..., Run]  # from RunsMixin

    def compare(self, a: str, b: str, *, alpha: float = 0.05) -> Comparison:
        """Run ``b`` compared with run ``a`` (the baseline): see :mod:`.compare`."""
        from promptvault.evals.compare import compare_runs

        return compare_runs(self.get_run(a), self.get_run(b), alpha=alpha)

    def set_gate(
        self,
        prompt: str,
        label: str,
        *,
        dataset: str,
        thresholds: Mapping[str, float],
        alpha: float = 0.05,
        actor: str = "",
    ) -> Gate:
        """Require a passing run on ``dataset`` to promote to ``prompt``'s ``label``."""
        if not thresholds:
            raise InvalidInputError(
                "a gate needs at least one evaluator threshold", details={"field": "thresholds"}
            )
        for name, value in thresholds.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise InvalidInputError(
                    f"threshold of {name!r} must be a number from 0 to 1",
                    details={"field": f"thresholds.{name}"},
                )
        if not 0 < alpha < 1:
            raise InvalidInputError("alpha must be between 0 and 1", details={"field": "alpha"})
        actor = actor or self._db.default_actor

        def change(work: UnitOfWork) -> Gate:
            if work.prompts.get(prompt) is None:
                from promptvault.errors import PromptNotFound

                raise PromptNotFound(f"no prompt named {prompt!r}", details={"field": "prompt"})
            load_dataset(work, dataset)
            work.evals.put_gate(
                prompt,
                label,
                dataset=dataset,
                thresholds={k: float(v) for k, v in thresholds.items()},
                alpha=alpha,
                created_at=utcnow(),
                created_by=actor,
            )
            work.audit(
                actor=actor,
                action="gate.set",
                target=f"prompt:{prompt}",
                details={
                    "label": label,
                    "dataset": dataset,
                    "thresholds": dict(thresholds),
                    "alpha": alpha,
                },
            )
            found = work.evals.gate(prompt, label)
            assert found is not None
            return Gate(**found)

        return self._db.write_work(change)

    def delete_gate(self, prompt: str, label: str, *, actor: str = "") -> None:
        """Remove the gate on ``prompt``'s ``label``."""

        def change(work: UnitOfWork) -> None:
            if not work.evals.delete_gate(prompt, label):
                raise NotFoundError(f"no eval gate on {prompt}@{label}", details={"field": "label"})
            work.audit(
                actor=actor,
                action="gate.delete",
                target=f"prompt:{prompt}",
                details={"label": label},
            )

        self._db.write_work(change)

    def record_override(self, result: GateResult, *, actor: str = "") -> None:
        """Audit a promotion past a failing gate (the caller moves the label)."""

        def change(work: UnitOfWork) -> None:
            work.audit(
                actor=actor,
                action="gate.override",
                target=f"prompt:{result.prompt}",
                details=result.model_dump(mode="json"),
            )

        self._db.write_work(change)

    def gates(self, prompt: str | None = None) -> list[Gate]:
        """Every gate (of one prompt when given)."""
        with self._db.read_work() as work:
            return [Gate(**g) for g in work.evals.gates(prompt)]

    def check_gate(self, prompt: str, label: str, version: int) -> GateResult | None:
        """Whether ``version`` may be promoted to ``label`` (None: the label has no gate)."""
        with self._db.read_work() as work:
            found = work.evals.gate(prompt, label)
            if found is None:
                return None
            gate = Gate(**found)
            dataset = load_dataset(work, gate.dataset)
            ref = work.prompts.get(prompt)
            held = work.prompts.labels(ref.id).get(label) if ref is not None else None
            candidate = _newest(work, dataset, prompt, version)
            baseline = _newest(work, dataset, prompt, held) if held not in (None, version) else None
        base: dict[str, Any] = {
            "prompt": prompt,
            "label": label,
            "version": version,
            "dataset": gate.dataset,
        }
        at = f"{gate.dataset} v{dataset['version']}"
        if candidate is None:
            return GateResult(
                passed=False,
                **base,
                reasons=[
                    f"no finished run of {prompt}@{version} on {at}: run "
                    f"`promptvault eval run {gate.dataset} --prompt {prompt}@{version}`"
                ],
            )
        run = self.get_run(candidate["id"])
        means = {n: s.mean for n, s in (run.summary.evaluators if run.summary else {}).items()}
        reasons = []
        if run.summary is not None and run.summary.errors:
            # Means cover the cases that answered; a run with failed calls proves less.
            reasons.append(f"run {run.id}: {run.summary.errors} cases ended in errors")
        for name, minimum in gate.thresholds.items():
            if name not in means:
                reasons.append(f"run {run.id} has no {name!r} scores")
            elif means[name] < minimum:
                reasons.append(f"{name}: mean {means[name]:.3f} is below {minimum:g}")
        if held is not None and held != version:
            if baseline is None:
                reasons.append(
                    f"no finished run of {prompt}@{held} (what {label} holds) on {at} to "
                    "compare with: run it too"
                )
            else:
                comparison = self.compare(baseline["id"], run.id, alpha=gate.alpha)
                for item in comparison.evaluators:
                    if item.name in gate.thresholds and item.verdict == "worse":
                        reasons.append(
                            f"{item.name}: significantly worse than v{held} "
                            f"({item.mean_a:.3f} -> {item.mean_b:.3f}, p={item.p_value:.3g})"
                        )
        return GateResult(
            passed=not reasons,
            **base,
            run=run.id,
            baseline=baseline["id"] if baseline else None,
            reasons=reasons,
            means=means,
        )


def _newest(
    work: UnitOfWork, dataset: Mapping[str, Any], prompt: str, version: int | None
) -> dict[str, Any] | None:
    if version is None:
        return None
    found = work.evals.runs(
        dataset_id=dataset["id"],
        prompt=prompt,
        version=version,
        dataset_version=dataset["version"],
        status="finished",
        limit=1,
    )
    return found[0] if found else None
