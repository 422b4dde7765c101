"""The registry service: pushes, label moves, rollback, archive and the read side.

Every write runs in one transaction (:meth:`Database.write_work`, on a unit of work) that
also appends its audit entries, so a change and its audit record commit or vanish together,
and a rejected write leaves the database exactly as it was. Inputs are validated before
the transaction.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Required, TypedDict, Unpack

from promptvault.entities import PromptSummary, PromptVersion, PushResult, as_syntax
from promptvault.errors import ConflictError, InvalidInputError, PromptVaultError
from promptvault.registry.label_moves import RegistryLabels
from promptvault.registry.partials import PendingVersion, check_push_includes
from promptvault.registry.reads import RegistryReads
from promptvault.registry.refs import DEFAULT_LABEL, check_name
from promptvault.registry.validation import CheckedPush, check_push
from promptvault.registry.write_core import audit_target, optional_text
from promptvault.storage.unit_of_work import UnitOfWork, utcnow

__all__ = ["PushOptions", "Registry"]


def _no_partials(_ref: str) -> str:
    # At push time a template is checked on its own: included prompts are resolved at render.
    return ""


class PushOptions(TypedDict, total=False):
    """What a push says besides the prompt's name: :meth:`Registry.push`'s keywords, and
    one item of :meth:`Registry.push_many` (with ``name``)."""

    template: Required[str | list[dict[str, Any]]]
    syntax: str
    type: str | None
    config: Mapping[str, Any] | None
    variables_schema: Mapping[str, Any] | None
    message: str
    author: str
    tags: Sequence[str] | None
    labels: Sequence[str] | None
    description: str | None
    allow_missing_partials: bool
    default_label: bool


_PUSH_KEYS = frozenset(PushOptions.__annotations__)


@dataclass(frozen=True, slots=True)
class _Push:
    """A push that passed every check needing no database, ready to write."""

    name: str
    checked: CheckedPush
    message: str
    author: str
    description: str | None
    default: bool
    allow_missing: bool


class Registry(RegistryLabels, RegistryReads):
    """Business rules of the prompt registry over one Database (label moves:
    :class:`RegistryLabels`; reads: :class:`RegistryReads`)."""

    # --- push -------------------------------------------------------------------------

    def push(self, name: str, **options: Unpack[PushOptions]) -> PushResult:
        """Store a new immutable version (or return the newest if the content is identical).

        ``options`` are :class:`PushOptions`: ``template`` (required), ``syntax``
        (``mustache``), ``type``, ``config``, ``variables_schema``, ``message``, ``author``,
        ``tags``, ``labels``, ``description``, ``allow_missing_partials`` (False) and
        ``default_label`` (True). A prompt's first version gets ``production`` unless
        ``default_label`` is False (then only the ``labels`` named). Partials the template
        includes must exist (``allow_missing_partials=True`` accepts a deliberate forward
        reference) and must not lead back to the version being pushed.
        """
        push = self._prepare(name, options)
        check_push_includes(
            self.db, self.resolver, name, push.checked, allow_missing=push.allow_missing
        )
        version, created = self.db.write_work(lambda work: self._write(work, push), serial=False)
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
            try:
                if not isinstance(name, str):
                    raise InvalidInputError(
                        "every push names its prompt", details={"field": "name"}
                    )
                if name in pending:
                    raise InvalidInputError(
                        f"prompt {name!r} appears twice in one batch", details={"field": "name"}
                    )
                push = self._prepare(name, options)
                found = check_push_includes(
                    self.db,
                    self.resolver,
                    name,
                    push.checked,
                    allow_missing=push.allow_missing,
                    pending=pending,
                )
            except PromptVaultError as err:
                err.details.setdefault("name", name)
                raise
            assert found is not None
            pending[name] = found
            prepared.append(push)

        def write_all(work: UnitOfWork) -> list[tuple[PromptVersion, bool]]:
            out = []
            for push in prepared:
                try:
                    out.append(self._write(work, push))
                except PromptVaultError as err:
                    err.details.setdefault("name", push.name)
                    raise
            return out

        written = self.db.write_work(write_all, serial=False) if prepared else []
        for version, _ in written:
            self._after_write(version.name)
            self.resolver.remember(version)
        return [PushResult(version=v, created=c) for v, c in written]

    def _prepare(self, name: str, options: Mapping[str, Any]) -> _Push:
        """Every check of a push that needs no database; the values it will write."""
        unknown = sorted(set(options) - _PUSH_KEYS)
        if unknown:
            raise TypeError(f"push() got an unexpected keyword argument {unknown[0]!r}")
        if "template" not in options:
            raise TypeError("push() missing 1 required keyword-only argument: 'template'")
        check_name(name)
        message = optional_text(options.get("message", ""), "message")
        author = optional_text(options.get("author", ""), "author", 200) or self.actor
        description = options.get("description")
        new_description = None if description is None else optional_text(description, "description")
        checked = check_push(
            template=options["template"],
            syntax=options.get("syntax", "mustache"),
            type=options.get("type"),
            config=options.get("config"),
            variables_schema=options.get("variables_schema"),
            tags=options.get("tags"),
            labels=options.get("labels"),
            partials=_no_partials,
            limits=self.limits,
        )
        return _Push(
            name,
            checked,
            message,
            author,
            new_description,
            options.get("default_label", True),
            bool(options.get("allow_missing_partials", False)),
        )

    def _write(self, work: UnitOfWork, push: _Push) -> tuple[PromptVersion, bool]:
        """Write one prepared push in ``work``: (the version, whether it is new)."""
        name, checked, message = push.name, push.checked, push.message
        author, new_description, default_label = push.author, push.description, push.default
        now = utcnow()
        head = work.prompts.push_head(name)
        if head is None:
            prompt_id = work.prompts.create(
                name=name,
                type=checked.type,
                description=new_description or "",
                actor=author,
                at=now,
            )
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
            version_id = work.prompts.insert_version(
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
            work.prompts.touch(
                prompt_id, at=now, actor=author, latest_version=number, type=checked.type
            )
            work.audit(
                actor=author,
                action="prompt.push",
                target=audit_target(name),
                details={"version": number, "hash": checked.hash, "message": message},
                at=now,
            )
        else:
            assert newest_id is not None
            number, version_id = latest, newest_id
        wanted = list(checked.labels)
        if created and number == 1 and default_label and DEFAULT_LABEL not in wanted:
            wanted.insert(0, DEFAULT_LABEL)
        # A brand-new version has no labels but the ones this push moves onto it.
        current = work.prompts.labels(prompt_id) if (wanted or not created) else {}
        for label in wanted:
            if current.get(label) != number:
                self._refuse_experiment_label(work, prompt_id, name, label)
                self._move(
                    work,
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
        added = work.prompts.add_tags(prompt_id, checked.tags) if checked.tags else []
        changed_description = new_description is not None and new_description != description_now
        if added or changed_description:
            extra = {"description": new_description} if changed_description else {}
            work.prompts.touch(prompt_id, at=now, actor=author, **extra)
            work.audit(
                actor=author,
                action="prompt.update",
                target=audit_target(name),
                details={"tags_added": added, "description": changed_description},
                at=now,
            )
        labels_here = tuple(sorted(lab for lab, v in current.items() if v == number))
        if not created:
            stored = work.prompts.version(name, prompt_id, number, labels_here)
            assert stored is not None
            return stored, False
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

    # --- archive ----------------------------------------------------------------------

    def set_archived(self, name: str, archived: bool, *, actor: str = "") -> PromptSummary:
        """Archive (hide from listings, refuse pushes) or unarchive a prompt."""
        check_name(name)
        actor = optional_text(actor, "actor", 200) or self.actor

        def change(work: UnitOfWork) -> PromptSummary:
            prompt = self._prompt(work, name)
            now = utcnow()
            if work.prompts.set_archived(prompt.id, archived, actor=actor, at=now):
                work.audit(
                    actor=actor,
                    action="prompt.archive" if archived else "prompt.unarchive",
                    target=audit_target(name),
                    details={},
                    at=now,
                )
                work.flush()
            return work.prompts.summary(prompt.id)

        summary = self.db.write_work(change, serial=False)
        self._after_write(name)
        return summary
