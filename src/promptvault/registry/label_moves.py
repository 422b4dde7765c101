"""Label moves: set, set several, roll back, delete, and the move an experiment makes.

Each runs in one write transaction that also appends its audit entries (see
:mod:`promptvault.registry.service` for the rules they keep). :class:`RegistryLabels` is
part of :class:`promptvault.registry.service.Registry`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from promptvault.entities import LabelEvent, PromptRef
from promptvault.errors import ConflictError, LabelNotFound, suggest
from promptvault.registry.partials import check_move_includes
from promptvault.registry.refs import DEFAULT_LABEL, check_label, check_name, check_version
from promptvault.registry.write_core import RegistryCore, audit_target, optional_text
from promptvault.storage.unit_of_work import UnitOfWork, utcnow

__all__ = ["RegistryLabels"]


class RegistryLabels(RegistryCore):
    """The registry's label operations."""

    def _unchanged(
        self, work: UnitOfWork, prompt_id: int, name: str, *, label: str, version: int, actor: str
    ) -> LabelEvent:
        last = work.prompts.last_label_event_id(prompt_id, label)
        return LabelEvent(
            id=last or 0,
            name=name,
            label=label,
            from_version=version,
            to_version=version,
            actor=actor,
            action="set",
            at=utcnow(),
            changed=False,
        )

    def move_label_in(
        self,
        work: UnitOfWork,
        name: str,
        label: str,
        version: int,
        *,
        actor: str,
        cause: Mapping[str, Any] | None = None,
    ) -> LabelEvent | None:
        """Point ``label`` at ``version`` inside the caller's write transaction.

        For the experiments service, which ends an experiment and moves its label in one
        transaction (conclude, automatic stop), and for approved change requests: an
        experiment must already be marked as not running in ``work``. ``cause`` goes into
        the audit entry (which experiment or request, on whose behalf). A label already at
        ``version`` is left alone (returns None). The caller invalidates the resolver's
        cache after the commit (:meth:`label_moved`).
        """
        prompt = self._prompt(work, name)
        version_id = self._version_id(work, prompt, version)
        current = work.prompts.labels(prompt.id).get(label)
        if current == version:
            return None
        self._refuse_experiment_label(work, prompt.id, name, label)
        return self._move(
            work,
            prompt_id=prompt.id,
            name=name,
            label=label,
            version_id=version_id,
            version=version,
            actor=actor,
            action="set",
            current=current,
            cause=cause,
        )

    def label_moved(self, name: str) -> None:
        """Forget cached pointers of ``name`` after a :meth:`move_label_in` committed."""
        self._after_write(name)

    def set_label(self, name: str, label: str, version: int, *, actor: str = "") -> LabelEvent:
        """Point ``label`` at ``version``.

        A move to where the label already points records nothing (no history row, no audit
        entry) and returns ``changed=False``: a repeated promote (a double-click) must not
        become the move that the next rollback undoes.
        """
        check_name(name)
        events = self._set_labels(name, [check_label(label)], version, actor=actor)
        return events[0]

    def set_labels(
        self, name: str, labels: Sequence[str], version: int, *, actor: str = ""
    ) -> list[LabelEvent]:
        """Point every one of ``labels`` at ``version`` in one transaction (all or none).

        Each label behaves as in :meth:`set_label`: one already there records nothing.
        """
        check_name(name)
        check_version(version)
        wanted = list(dict.fromkeys(check_label(lab, field="labels") for lab in labels))
        return self._set_labels(name, wanted, version, actor=actor)

    def _set_labels(
        self, name: str, wanted: list[str], version: int, *, actor: str
    ) -> list[LabelEvent]:
        # The public methods checked the name and the labels, in their own order.
        check_version(version)
        actor = optional_text(actor, "actor", 200) or self.actor
        for label in wanted:
            check_move_includes(self.resolver, name, label, version)

        def change(work: UnitOfWork) -> list[LabelEvent]:
            prompt = self._prompt(work, name)
            version_id = self._version_id(work, prompt, version)
            current = work.prompts.labels(prompt.id)
            events = []
            for label in wanted:
                if current.get(label) == version:
                    events.append(
                        self._unchanged(
                            work, prompt.id, name, label=label, version=version, actor=actor
                        )
                    )
                    continue
                self._refuse_experiment_label(work, prompt.id, name, label)
                events.append(
                    self._move(
                        work,
                        prompt_id=prompt.id,
                        name=name,
                        label=label,
                        version_id=version_id,
                        version=version,
                        actor=actor,
                        action="set",
                        current=current.get(label),
                    )
                )
            return events

        events: list[LabelEvent] = self.db.write_work(change, serial=False)
        self._after_write(name)
        return events

    def rollback(self, name: str, *, label: str = DEFAULT_LABEL, actor: str = "") -> LabelEvent:
        """Move ``label`` back to where it pointed before its last (not undone) move."""
        check_name(name)
        check_label(label)
        actor = optional_text(actor, "actor", 200) or self.actor

        def change(work: UnitOfWork) -> LabelEvent:
            prompt = self._prompt(work, name)
            current = self._current(work, prompt, label)
            stack: list[int | None] = []
            for move in work.prompts.label_moves(prompt.id, label):
                if move.action == "rollback":
                    if stack:
                        stack.pop()
                elif move.from_version != move.to_version or move.action != "set":
                    # A "v3 -> v3" set (stored before no-op moves were skipped) moved
                    # nothing, so there is nothing to undo.
                    stack.append(move.from_version)
            previous = stack[-1] if stack else None
            if previous is None:
                raise ConflictError(
                    f"label {label!r} of {name!r} has no earlier version to roll back to",
                    details={"name": name, "label": label, "version": current},
                )
            version_id = self._version_id(work, prompt, previous)
            if previous != current:
                self._refuse_experiment_label(work, prompt.id, name, label)
            return self._move(
                work,
                prompt_id=prompt.id,
                name=name,
                label=label,
                version_id=version_id,
                version=previous,
                actor=actor,
                action="rollback",
                current=current,
            )

        event = self.db.write_work(change, serial=False)
        self._after_write(name)
        return event

    def _current(self, work: UnitOfWork, prompt: PromptRef, label: str) -> int:
        labels = work.prompts.labels(prompt.id)
        if label not in labels:
            near = suggest(label, labels)
            raise LabelNotFound(
                f"prompt {prompt.name!r} has no label {label!r}",
                details={
                    "name": prompt.name,
                    "label": label,
                    "labels": sorted(labels),
                    "suggestions": near,
                },
            )
        return labels[label]

    def delete_label(self, name: str, label: str, *, actor: str = "") -> LabelEvent:
        """Remove a label (its history stays)."""
        check_name(name)
        check_label(label)
        actor = optional_text(actor, "actor", 200) or self.actor

        def change(work: UnitOfWork) -> LabelEvent:
            prompt = self._prompt(work, name)
            current = self._current(work, prompt, label)
            self._refuse_experiment_label(work, prompt.id, name, label)
            now = utcnow()
            work.prompts.delete_label(prompt.id, label)
            event_id = work.prompts.record_label_event(
                prompt.id,
                label=label,
                from_version=current,
                to_version=current,
                action="delete",
                actor=actor,
                at=now,
            )
            work.prompts.touch(prompt.id, at=now, actor=actor)
            work.audit(
                actor=actor,
                action="label.delete",
                target=audit_target(name),
                details={"label": label, "from_version": current},
                at=now,
            )
            return work.prompts.label_event(name, event_id)

        event = self.db.write_work(change, serial=False)
        self._after_write(name)
        return event
