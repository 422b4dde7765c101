"""What the registry's write operations share: settings, the resolver, and the helpers
every write transaction uses. Each helper takes the transaction's :class:`UnitOfWork`; none
sees a session or a row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from promptvault.config import Settings
from promptvault.entities import LabelEvent, PromptRef, check_text
from promptvault.errors import ExperimentStateError, VersionNotFound
from promptvault.registry.resolver import Resolver, not_found_prompt
from promptvault.storage.database import Database
from promptvault.storage.unit_of_work import UnitOfWork, utcnow
from promptvault.templating.base import limits_from_settings

__all__ = ["RegistryCore", "audit_target", "optional_text"]


def optional_text(value: object, field: str, limit: int | None = None) -> str:
    """A checked free-text argument (None reads as empty)."""
    return check_text(value, field, limit=limit, allow_none=True)


def audit_target(name: str) -> str:
    """The audit entries' target of prompt ``name``."""
    return f"prompt:{name}"


class RegistryCore:
    """What the registry's writes share: settings, the resolver, and the helpers every
    write transaction uses (each takes the transaction's :class:`UnitOfWork`)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        # Who is recorded when a call names no actor or author: never an empty string.
        self.actor = settings.resolved_actor()
        self.limits = limits_from_settings(settings)
        self.resolver = Resolver(
            db,
            ttl=settings.label_ttl,
            clock=clock,
            limits=self.limits,
            timezone=settings.timezone,
        )

    def _prompt(self, work: UnitOfWork, name: str) -> PromptRef:
        # Writes to one prompt queue on its lock; writes to others run beside them and
        # meet only at the audit append (``Database.write(..., serial=False)``).
        work.prompts.lock(name)
        prompt = work.prompts.get(name)
        if prompt is None:
            raise not_found_prompt(self.db, name)
        return prompt

    def _version_id(self, work: UnitOfWork, prompt: PromptRef, version: int) -> int:
        version_id = work.prompts.version_id(prompt.id, version)
        if version_id is None:
            raise VersionNotFound(
                f"prompt {prompt.name!r} has no version {version} "
                f"(latest is {prompt.latest_version})",
                details={"name": prompt.name, "version": version, "latest": prompt.latest_version},
            )
        return version_id

    def _move(
        self,
        work: UnitOfWork,
        *,
        prompt_id: int,
        name: str,
        label: str,
        version_id: int,
        version: int,
        actor: str,
        action: str,
        current: int | None,
        cause: Mapping[str, Any] | None = None,
    ) -> LabelEvent:
        now = utcnow()
        work.prompts.set_label(prompt_id, label, version_id, actor=actor, at=now)
        event_id = work.prompts.record_label_event(
            prompt_id,
            label=label,
            from_version=current,
            to_version=version,
            action=action,
            actor=actor,
            at=now,
        )
        work.prompts.touch(prompt_id, at=now, actor=actor)
        work.audit(
            actor=actor,
            action=f"label.{action}",
            target=audit_target(name),
            details={
                "label": label,
                "from_version": current,
                "to_version": version,
                **({"cause": dict(cause)} if cause else {}),
            },
            at=now,
        )
        return LabelEvent(
            id=event_id,
            name=name,
            label=label,
            from_version=current,
            to_version=version,
            actor=actor,
            action="rollback" if action == "rollback" else "set",
            at=now,
        )

    def _after_write(self, name: str) -> None:
        self.resolver.invalidate(name)

    @staticmethod
    def _refuse_experiment_label(work: UnitOfWork, prompt_id: int, name: str, label: str) -> None:
        """Refuse to move a label while an experiment serves it (see the module notes)."""
        running = work.experiments.running_on_label(prompt_id, label)
        if running is not None:
            raise ExperimentStateError(
                f"label {label!r} of {name!r} serves the running experiment {running!r}: "
                f"stop or conclude the experiment before moving the label",
                details={"field": "label", "name": name, "label": label, "experiment": running},
            )
