"""The registry service: pushes, label moves, rollback, archive and the read side.

Every write runs in one serialised transaction (:meth:`Database.write`) that also appends its
audit entries, so a change and its audit record commit or vanish together, and a rejected
write leaves the database exactly as it was. Inputs are validated before the transaction.

Decisions worth knowing:

- Pushing content identical to the newest version creates nothing and appends no ``push``
  audit entry; the labels named in that push are still moved to the newest version (each
  move is a real change with its own ``label.set`` entry), and new tags or a new description
  are still applied (``prompt.update``).
- The first version of a prompt gets ``production``; later pushes move only the labels named.
- ``rollback`` undoes label moves like a stack: each ``set`` remembers where the label was,
  each ``rollback`` pops that memory, so repeated rollbacks walk further back.
- A label that a running experiment serves does not move (set, rollback, delete, or a push
  naming it): the experiment would go on routing its units as before, so the move would not
  do what it says. Stop or conclude the experiment first; concluding moves the label in the
  same transaction (:meth:`Registry.move_label_in`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from promptvault.config import Settings
from promptvault.entities import (
    LabelEvent,
    PromptSummary,
    PromptVersion,
    PushResult,
    as_syntax,
    check_text,
)
from promptvault.errors import (
    ConflictError,
    ExperimentStateError,
    InvalidInputError,
    LabelNotFound,
    PromptVaultError,
    VersionNotFound,
    suggest,
)
from promptvault.registry.partials import (
    PendingVersion,
    check_move_includes,
    check_push_includes,
)
from promptvault.registry.reads import RegistryReads
from promptvault.registry.refs import (
    DEFAULT_LABEL,
    check_label,
    check_name,
    check_version,
)
from promptvault.registry.resolver import Resolver, not_found_prompt
from promptvault.registry.validation import CheckedPush, check_push
from promptvault.storage import experiments as experiment_store
from promptvault.storage import repositories as repo
from promptvault.storage.audit import append
from promptvault.storage.database import Database, lock_prompt
from promptvault.storage.tables import PromptRow, VersionRow, utcnow
from promptvault.templating.base import limits_from_settings

__all__ = ["Registry"]


def _no_partials(_ref: str) -> str:
    # At push time a template is checked on its own: included prompts are resolved at render.
    return ""


def _text(value: object, field: str, limit: int | None = None) -> str:
    return check_text(value, field, limit=limit, allow_none=True)


def _target(name: str) -> str:
    return f"prompt:{name}"


@dataclass(frozen=True, slots=True)
class _Push:
    """A push that passed every check needing no database, ready to write."""

    name: str
    checked: CheckedPush
    message: str
    author: str
    description: str | None
    default: bool


class Registry(RegistryReads):
    """Business rules of the prompt registry over one Database (reads: :class:`RegistryReads`)."""

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

    # --- helpers used inside write transactions ---------------------------------------

    def _prompt(self, session: Session, name: str) -> PromptRow:
        # Writes to one prompt queue on its lock; writes to others run beside them and
        # meet only at the audit append (``Database.write(..., serial=False)``).
        lock_prompt(session, name)
        row = repo.get_prompt(session, name)
        if row is None:
            raise not_found_prompt(self.db, name)
        return row

    def _version_row(self, session: Session, prompt: PromptRow, version: int) -> VersionRow:
        row = repo.version_row(session, prompt.id, version)
        if row is None:
            raise VersionNotFound(
                f"prompt {prompt.name!r} has no version {version} "
                f"(latest is {prompt.latest_version})",
                details={"name": prompt.name, "version": version, "latest": prompt.latest_version},
            )
        return row

    def _move(
        self,
        session: Session,
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
        repo.set_label_row(session, prompt_id, label, version_id, actor=actor, at=now)
        event_id = repo.insert_label_event(
            session,
            prompt_id,
            label=label,
            from_version=current,
            to_version=version,
            action=action,
            actor=actor,
            at=now,
        )
        repo.touch_prompt(session, prompt_id, at=now, actor=actor)
        append(
            session,
            actor=actor,
            action=f"label.{action}",
            target=_target(name),
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

    def _unchanged(
        self, session: Session, prompt_id: int, name: str, *, label: str, version: int, actor: str
    ) -> LabelEvent:
        last = repo.label_events(session, prompt_id, label, limit=1)
        return LabelEvent(
            id=last[0].id if last else 0,
            name=name,
            label=label,
            from_version=version,
            to_version=version,
            actor=actor,
            action="set",
            at=utcnow(),
            changed=False,
        )

    def _after_write(self, name: str) -> None:
        self.resolver.invalidate(name)

    @staticmethod
    def _refuse_experiment_label(session: Session, prompt_id: int, name: str, label: str) -> None:
        """Refuse to move a label while an experiment serves it (see the module notes)."""
        running = experiment_store.running_on_label(session, prompt_id, label)
        if running is not None:
            raise ExperimentStateError(
                f"label {label!r} of {name!r} serves the running experiment {running!r}: "
                f"stop or conclude the experiment before moving the label",
                details={"field": "label", "name": name, "label": label, "experiment": running},
            )

    def move_label_in(
        self,
        session: Session,
        name: str,
        label: str,
        version: int,
        *,
        actor: str,
        cause: Mapping[str, Any] | None = None,
    ) -> LabelEvent | None:
        """Point ``label`` at ``version`` inside the caller's write transaction.

        For the experiments service, which ends an experiment and moves its label in one
        transaction (conclude, automatic stop): the experiment must already be marked as
        not running in ``session``. ``cause`` goes into the audit entry (which experiment,
        on whose behalf). A label already at ``version`` is left alone (returns None). The
        caller invalidates the resolver's cache after the commit (:meth:`label_moved`).
        """
        prompt = self._prompt(session, name)
        target = self._version_row(session, prompt, version)
        current = repo.labels_of(session, prompt.id).get(label)
        if current == target.version:
            return None
        self._refuse_experiment_label(session, prompt.id, name, label)
        return self._move(
            session,
            prompt_id=prompt.id,
            name=name,
            label=label,
            version_id=target.id,
            version=target.version,
            actor=actor,
            action="set",
            current=current,
            cause=cause,
        )

    def label_moved(self, name: str) -> None:
        """Forget cached pointers of ``name`` after a :meth:`move_label_in` committed."""
        self._after_write(name)

    # --- push -------------------------------------------------------------------------

    def push(
        self,
        name: str,
        *,
        template: str | list[dict[str, Any]],
        syntax: str = "mustache",
        type: str | None = None,
        config: Mapping[str, Any] | None = None,
        variables_schema: Mapping[str, Any] | None = None,
        message: str = "",
        author: str = "",
        tags: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        description: str | None = None,
        allow_missing_partials: bool = False,
        default_label: bool = True,
    ) -> PushResult:
        """Store a new immutable version (or return the newest if the content is identical).

        A prompt's first version gets ``production`` unless ``default_label`` is False (then
        only the ``labels`` named). Partials the template includes must exist
        (``allow_missing_partials=True`` accepts a deliberate forward reference) and must not
        lead back to the version being pushed.
        """
        push = self._prepare(
            name,
            template=template,
            syntax=syntax,
            type=type,
            config=config,
            variables_schema=variables_schema,
            message=message,
            author=author,
            tags=tags,
            labels=labels,
            description=description,
            default_label=default_label,
        )
        check_push_includes(
            self.db,
            self.resolver,
            name,
            push.checked,
            allow_missing=bool(allow_missing_partials),
        )
        version, created = self.db.write(lambda session: self._write(session, push), serial=False)
        self._after_write(name)
        self.resolver.remember(version)
        return PushResult(version=version, created=created)

    def push_many(self, pushes: Sequence[Mapping[str, Any]]) -> list[PushResult]:
        """Push several prompts in one write transaction: all of them, or none.

        Each mapping holds :meth:`push`'s arguments (``name`` included). They are checked
        in order as if pushed one by one: a partial may name a prompt pushed earlier in
        the list. Any failure, or an interruption, leaves the registry as it was. A failing
        item's error names it (``details["name"]``).
        """
        prepared: list[_Push] = []
        pending: dict[str, PendingVersion] = {}
        for item in pushes:
            options = dict(item)
            name = options.pop("name", None)
            allow_missing = bool(options.pop("allow_missing_partials", False))
            try:
                if not isinstance(name, str):
                    raise InvalidInputError(
                        "every push names its prompt", details={"field": "name"}
                    )
                if name in pending:
                    raise InvalidInputError(
                        f"prompt {name!r} appears twice in one batch", details={"field": "name"}
                    )
                push = self._prepare(name, **options)
                found = check_push_includes(
                    self.db,
                    self.resolver,
                    name,
                    push.checked,
                    allow_missing=allow_missing,
                    pending=pending,
                )
            except PromptVaultError as err:
                err.details.setdefault("name", name)
                raise
            assert found is not None
            pending[name] = found
            prepared.append(push)

        def work(session: Session) -> list[tuple[PromptVersion, bool]]:
            out = []
            for push in prepared:
                try:
                    out.append(self._write(session, push))
                except PromptVaultError as err:
                    err.details.setdefault("name", push.name)
                    raise
            return out

        written = self.db.write(work, serial=False) if prepared else []
        for version, _ in written:
            self._after_write(version.name)
            self.resolver.remember(version)
        return [PushResult(version=v, created=c) for v, c in written]

    def _prepare(
        self,
        name: str,
        *,
        template: str | list[dict[str, Any]],
        syntax: str = "mustache",
        type: str | None = None,
        config: Mapping[str, Any] | None = None,
        variables_schema: Mapping[str, Any] | None = None,
        message: str = "",
        author: str = "",
        tags: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        description: str | None = None,
        default_label: bool = True,
    ) -> _Push:
        """Every check of a push that needs no database; the values it will write."""
        check_name(name)
        message = _text(message, "message")
        author = _text(author, "author", 200) or self.actor
        new_description = None if description is None else _text(description, "description")
        checked = check_push(
            template=template,
            syntax=syntax,
            type=type,
            config=config,
            variables_schema=variables_schema,
            tags=tags,
            labels=labels,
            partials=_no_partials,
            limits=self.limits,
        )
        return _Push(name, checked, message, author, new_description, default_label)

    def _write(self, session: Session, push: _Push) -> tuple[PromptVersion, bool]:
        """Write one prepared push in ``session``: (the version, whether it is new)."""
        name, checked, message = push.name, push.checked, push.message
        author, new_description, default_label = push.author, push.description, push.default
        now = utcnow()
        head = repo.push_head(session, name)
        if head is None:
            prompt_id = repo.create_prompt(
                session,
                name=name,
                type=checked.type,
                description=new_description or "",
                actor=author,
                at=now,
            ).id
            latest, newest_id, newest_hash, description_now = 0, None, None, new_description
        elif head.archived:
            raise ConflictError(
                f"prompt {name!r} is archived; unarchive it before pushing",
                details={"name": name, "field": "name"},
            )
        else:
            prompt_id, latest = head.id, head.latest_version
            newest_id, newest_hash = head.newest_id, head.newest_hash
            description_now = head.description
        created = newest_hash != checked.hash
        if created:
            number = latest + 1
            version_id = repo.insert_version(
                session,
                prompt_id,
                number,
                type=checked.type,
                syntax=checked.syntax,
                template=checked.template,
                config=checked.config,
                variables_schema=checked.variables_schema,
                message=message,
                author=author,
                created_at=now,
                hash=checked.hash,
            )
            repo.touch_prompt(
                session,
                prompt_id,
                at=now,
                actor=author,
                latest_version=number,
                type=checked.type,
            )
            append(
                session,
                actor=author,
                action="prompt.push",
                target=_target(name),
                details={"version": number, "hash": checked.hash, "message": message},
                at=now,
            )
        else:
            assert newest_id is not None
            number, version_id = latest, int(newest_id)
        wanted = list(checked.labels)
        if created and number == 1 and default_label and DEFAULT_LABEL not in wanted:
            wanted.insert(0, DEFAULT_LABEL)
        # A brand-new version has no labels but the ones this push moves onto it.
        current = repo.labels_of(session, prompt_id) if (wanted or not created) else {}
        for label in wanted:
            if current.get(label) != number:
                self._refuse_experiment_label(session, prompt_id, name, label)
                self._move(
                    session,
                    prompt_id=prompt_id,
                    name=name,
                    label=label,
                    version_id=version_id,
                    version=number,
                    actor=author,
                    action="set",
                    current=current.get(label),
                )
                current[label] = number
        added = repo.add_tags(session, prompt_id, checked.tags) if checked.tags else []
        changed_description = new_description is not None and new_description != description_now
        if added or changed_description:
            extra = {"description": new_description} if changed_description else {}
            repo.touch_prompt(session, prompt_id, at=now, actor=author, **extra)
            append(
                session,
                actor=author,
                action="prompt.update",
                target=_target(name),
                details={"tags_added": added, "description": changed_description},
                at=now,
            )
        labels_here = tuple(sorted(lab for lab, v in current.items() if v == number))
        if not created:
            row = repo.version_row(session, prompt_id, number)
            assert row is not None
            return repo.to_version(name, row, labels_here), False
        version = PromptVersion(
            name=name,
            version=number,
            type="chat" if checked.type == "chat" else "text",
            syntax=as_syntax(checked.syntax),
            template=checked.template,
            config=checked.config,
            variables_schema=checked.variables_schema,
            message=message,
            author=author,
            created_at=now,
            hash=checked.hash,
            labels=labels_here,
        )
        return version, True

    # --- labels -----------------------------------------------------------------------

    def set_label(self, name: str, label: str, version: int, *, actor: str = "") -> LabelEvent:
        """Point ``label`` at ``version``.

        A move to where the label already points records nothing (no history row, no audit
        entry) and returns ``changed=False``: a repeated promote (a double-click) must not
        become the move that the next rollback undoes.
        """
        check_name(name)
        check_label(label)
        check_version(version)
        actor = _text(actor, "actor", 200) or self.actor
        check_move_includes(self.resolver, name, label, version)

        def work(session: Session) -> LabelEvent:
            prompt = self._prompt(session, name)
            target = self._version_row(session, prompt, version)
            current = repo.labels_of(session, prompt.id).get(label)
            if current == target.version:
                return self._unchanged(
                    session, prompt.id, name, label=label, version=current, actor=actor
                )
            self._refuse_experiment_label(session, prompt.id, name, label)
            return self._move(
                session,
                prompt_id=prompt.id,
                name=name,
                label=label,
                version_id=target.id,
                version=target.version,
                actor=actor,
                action="set",
                current=current,
            )

        event = self.db.write(work, serial=False)
        self._after_write(name)
        return event

    def set_labels(
        self, name: str, labels: Sequence[str], version: int, *, actor: str = ""
    ) -> list[LabelEvent]:
        """Point every one of ``labels`` at ``version`` in one transaction (all or none).

        Each label behaves as in :meth:`set_label`: one already there records nothing.
        """
        check_name(name)
        check_version(version)
        wanted = list(dict.fromkeys(check_label(lab, field="labels") for lab in labels))
        actor = _text(actor, "actor", 200) or self.actor
        for label in wanted:
            check_move_includes(self.resolver, name, label, version)

        def work(session: Session) -> list[LabelEvent]:
            prompt = self._prompt(session, name)
            target = self._version_row(session, prompt, version)
            current = repo.labels_of(session, prompt.id)
            events = []
            for label in wanted:
                if current.get(label) == target.version:
                    events.append(
                        self._unchanged(
                            session, prompt.id, name, label=label, version=version, actor=actor
                        )
                    )
                    continue
                self._refuse_experiment_label(session, prompt.id, name, label)
                events.append(
                    self._move(
                        session,
                        prompt_id=prompt.id,
                        name=name,
                        label=label,
                        version_id=target.id,
                        version=target.version,
                        actor=actor,
                        action="set",
                        current=current.get(label),
                    )
                )
            return events

        events: list[LabelEvent] = self.db.write(work, serial=False)
        self._after_write(name)
        return events

    def rollback(self, name: str, *, label: str = DEFAULT_LABEL, actor: str = "") -> LabelEvent:
        """Move ``label`` back to where it pointed before its last (not undone) move."""
        check_name(name)
        check_label(label)
        actor = _text(actor, "actor", 200) or self.actor

        def work(session: Session) -> LabelEvent:
            prompt = self._prompt(session, name)
            current = self._current(session, prompt, label)
            stack: list[int | None] = []
            for event in repo.label_events(session, prompt.id, label, oldest_first=True):
                if event.action == "rollback":
                    if stack:
                        stack.pop()
                elif event.from_version != event.to_version or event.action != "set":
                    # A "v3 -> v3" set (stored before no-op moves were skipped) moved
                    # nothing, so there is nothing to undo.
                    stack.append(event.from_version)
            previous = stack[-1] if stack else None
            if previous is None:
                raise ConflictError(
                    f"label {label!r} of {name!r} has no earlier version to roll back to",
                    details={"name": name, "label": label, "version": current},
                )
            target = self._version_row(session, prompt, previous)
            if target.version != current:
                self._refuse_experiment_label(session, prompt.id, name, label)
            return self._move(
                session,
                prompt_id=prompt.id,
                name=name,
                label=label,
                version_id=target.id,
                version=target.version,
                actor=actor,
                action="rollback",
                current=current,
            )

        event = self.db.write(work, serial=False)
        self._after_write(name)
        return event

    def _current(self, session: Session, prompt: PromptRow, label: str) -> int:
        labels = repo.labels_of(session, prompt.id)
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
        actor = _text(actor, "actor", 200) or self.actor

        def work(session: Session) -> LabelEvent:
            prompt = self._prompt(session, name)
            current = self._current(session, prompt, label)
            self._refuse_experiment_label(session, prompt.id, name, label)
            now = utcnow()
            repo.delete_label_row(session, prompt.id, label)
            event_id = repo.insert_label_event(
                session,
                prompt.id,
                label=label,
                from_version=current,
                to_version=current,
                action="delete",
                actor=actor,
                at=now,
            )
            repo.touch_prompt(session, prompt.id, at=now, actor=actor)
            append(
                session,
                actor=actor,
                action="label.delete",
                target=_target(name),
                details={"label": label, "from_version": current},
                at=now,
            )
            return repo.to_label_event(name, repo.label_event(session, event_id))

        event = self.db.write(work, serial=False)
        self._after_write(name)
        return event

    # --- archive ----------------------------------------------------------------------

    def set_archived(self, name: str, archived: bool, *, actor: str = "") -> PromptSummary:
        """Archive (hide from listings, refuse pushes) or unarchive a prompt."""
        check_name(name)
        actor = _text(actor, "actor", 200) or self.actor

        def work(session: Session) -> PromptSummary:
            prompt = self._prompt(session, name)
            if prompt.archived != archived:
                now = utcnow()
                prompt.archived = archived
                prompt.updated_at = now
                prompt.updated_by = actor
                append(
                    session,
                    actor=actor,
                    action="prompt.archive" if archived else "prompt.unarchive",
                    target=_target(name),
                    details={},
                    at=now,
                )
                session.flush()
            return repo.summaries(session, [prompt])[0]

        summary = self.db.write(work, serial=False)
        self._after_write(name)
        return summary
