"""``Vault``: the library face of promptvault and the composition root of the core.

::

    from promptvault import Vault

    with Vault.open() as vault:              # SQLite under PROMPTVAULT_HOME, migrated on first use
        vault.push("greeting", template="Hello {{name}}!", author="alice")
        vault.render("greeting", {"name": "Ada"})          # 'Hello Ada!'

A Vault holds one database engine and the caches that keep reference resolution off the
database; share one per process. It is safe to use from several threads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple

from promptvault.builder.builder import BuiltRequest, PromptBuilder
from promptvault.config import Settings
from promptvault.entities import (
    ChangeEvent,
    LabelEvent,
    PromptDiff,
    PromptSummary,
    PromptVersion,
    PushResult,
)
from promptvault.errors import EvalGateError, PromptUnavailable
from promptvault.integrations.otel import instrument
from promptvault.registry.audit import AuditLog
from promptvault.registry.diff import diff_versions
from promptvault.registry.events import ChangeFeed
from promptvault.registry.service import Registry
from promptvault.storage.database import Database
from promptvault.storage.migrate import (
    current_revision,
    has_checkpoints_table,
    head_revision,
    known_revisions,
    upgrade,
)

if TYPE_CHECKING:
    from promptvault.evals.service import EvalService
    from promptvault.experiments.service import ExperimentService
    from promptvault.fewshot.service import ExampleService
    from promptvault.registry.approvals import Approvals, ChangeRequest
    from promptvault.registry.importers import ImportReport
    from promptvault.storage.backup import BackupResult, RestoreResult
    from promptvault.webhooks.service import WebhookService

__all__ = ["SchemaState", "Vault", "schema_state", "upgrade_schema"]


class SchemaState(NamedTuple):
    """Where a database's schema is (``None``: empty) and the newest this version ships."""

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        """Whether no migration is waiting."""
        return self.current == self.head


def schema_state(settings: Settings) -> SchemaState:
    """The schema state of the configured database, read without migrating it."""
    db = Database(settings.resolved_database_url(), settings=settings)
    try:
        return SchemaState(current_revision(db.engine), head_revision())
    finally:
        db.dispose()


def upgrade_schema(settings: Settings, *, actor: str = "promptvault db upgrade") -> SchemaState:
    """Upgrade the configured database to the newest schema (safe to repeat).

    Returns the state it was in before. This is what ``promptvault db upgrade`` runs, so the
    CLI needs no storage module of its own.
    """
    db = Database(settings.resolved_database_url(), settings=settings)
    try:
        before = current_revision(db.engine)
        _upgrade(db, AuditLog(db), actor=actor)
        return SchemaState(before, head_revision())
    finally:
        db.dispose()


def _upgrade(db: Database, audit: AuditLog, *, actor: str) -> None:
    had_checkpoints = has_checkpoints_table(db.engine)
    upgrade(db)
    if not had_checkpoints:  # a chain written before checkpoints gets its first
        audit.anchor_unsigned_head(actor=actor)


# ``unit_id`` left out means "no experiment"; ``unit_id=None`` is a random assignment.
_NO_UNIT: Any = object()


class Vault:
    """Prompts, versions, labels, rendering and the audit log over one database."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        migrate: bool | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Open the configured database; ``migrate`` defaults to "SQLite, or an empty DB".

        PostgreSQL databases that already hold an older schema are upgraded only when asked
        (``migrate=True`` or ``promptvault db upgrade``), since other servers may share them.
        """
        self.settings = settings or Settings()
        self.db = Database(
            self.settings.resolved_database_url(),
            settings=self.settings,
        )
        self.db.default_actor = self.settings.resolved_actor()
        self.audit = AuditLog(self.db)
        self.events = ChangeFeed(self.db)
        self._ensure_schema(migrate)
        self._clock = clock
        self.registry = Registry(self.db, self.settings, clock=clock)
        self.builder = PromptBuilder(timezone=self.settings.timezone, limits=self.registry.limits)
        instrument(self)  # spans for get/render/build, only with OpenTelemetry installed

    # The experiment and few-shot services (and numpy behind them) load on first use, so a
    # process that only resolves and renders prompts, like a CLI command, starts quickly.

    @cached_property
    def experiments(self) -> ExperimentService:
        """Experiments on this vault's prompts: lifecycle, routing, events and reports."""
        from promptvault.experiments.service import ExperimentService

        return ExperimentService(
            self.db,
            self.settings,
            fetch_version=lambda name, number: self.registry.resolver.get(name, version=number),
            move_label=self.registry.move_label_in,
            label_moved=self.registry.label_moved,
            clock=self._clock,
        )

    @cached_property
    def examples(self) -> ExampleService:
        """Few-shot example collections: storage, embeddings and selection."""
        from promptvault.fewshot.service import ExampleService

        return ExampleService(self.db, self.settings, clock=self._clock)

    @cached_property
    def requests(self) -> Approvals:
        """Four-eyes approval: change requests for label moves, and comments."""
        from promptvault.registry.approvals import Approvals

        return Approvals(self.registry)

    @cached_property
    def evals(self) -> EvalService:
        """Evaluations: datasets, providers, runs against a model, comparisons, gates."""
        from promptvault.evals.service import EvalService

        return EvalService(
            self.db,
            self.settings,
            build=self.build,
            resolve=self.registry.resolver.get,
            embed=self._embed,
        )

    def _embed(self, embedder: str, texts: list[str]) -> list[list[float]]:
        # The collections' embedders, by name (hashing, minilm, openai), for evaluators.
        from promptvault.fewshot.embedders import get_embedder

        vectors = get_embedder(embedder, self.settings).embed(texts)
        return [[float(x) for x in row] for row in vectors]

    @cached_property
    def webhooks(self) -> WebhookService:
        """Webhook subscriptions (admin work): create, list, enable/disable, remove, the
        delivery log, test and redelivery. Delivery runs in the server's dispatcher."""
        from promptvault.webhooks.feed import OutboxFeed
        from promptvault.webhooks.service import WebhookService

        return WebhookService(self.db, self.settings, OutboxFeed(self.db))

    def forget_changed(self, events: Sequence[ChangeEvent]) -> None:
        """Changes committed (possibly by another process sharing the database): drop what
        this Vault cached of them, so it answers them at once rather than after
        ``label_ttl``. The stream broadcaster of each server calls it for every new event."""
        for name in {e.prompt for e in events if e.prompt is not None}:
            self.registry.resolver.invalidate(name)
        routing = any(e.type.startswith("experiment.") for e in events)
        if routing and "experiments" in self.__dict__:  # loaded: its routing is cached
            self.experiments.router.invalidate()

    @classmethod
    def open(cls, url: str | None = None, *, settings: Settings | None = None) -> Vault:
        """A Vault on ``url`` (else the settings' database, else the SQLite file in home)."""
        base = settings or Settings()
        if url is not None:
            base = base.model_copy(update={"database_url": url})
        return cls(base)

    def _ensure_schema(self, migrate: bool | None) -> None:
        head = head_revision()
        current = current_revision(self.db.engine)
        if current == head:
            return
        if migrate or (migrate is None and (self.db.is_sqlite or current is None)):
            _upgrade(self.db, self.audit, actor="promptvault upgrade")
            return
        if current not in known_revisions():
            raise PromptUnavailable(
                f"the database schema is at {current}, which this promptvault does not know "
                f"(its newest is {head}): the database was migrated by a newer promptvault",
                details={"current": current, "head": head, "url": self.db.safe_url},
            )
        raise PromptUnavailable(
            f"the database schema is at {current}, this promptvault needs {head}: "
            "run `promptvault db upgrade`",
            details={"current": current, "head": head, "url": self.db.safe_url},
        )

    def schema_state(self) -> SchemaState:
        """The database's schema revision and the newest one this promptvault ships.

        Reading the revision opens a connection, so it also proves the database answers.
        """
        return SchemaState(current_revision(self.db.engine), head_revision())

    # --- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Write what the services used have queued (experiment events, example usage),
        close the connections kept to webhook endpoints, then release the database's."""
        started = self.__dict__  # only services that were used have anything to write
        if "experiments" in started:
            self.experiments.close()
        if "examples" in started:
            self.examples.close()
        if "webhooks" in started:
            self.webhooks.close()
        self.db.dispose()

    def __enter__(self) -> Vault:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Vault {self.db.safe_url}>"

    # --- prompts and versions -----------------------------------------------------------

    def push(
        self,
        name: str,
        *,
        template: str | Sequence[Mapping[str, Any]],
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
        """Store a new immutable version; identical content returns the newest, created=False.

        ``type`` is inferred when omitted (a list is ``chat``, a string ``text``). The first
        version gets ``production`` (unless ``default_label=False``: then only ``labels``);
        ``labels`` are moved to the pushed (or newest) version.
        A partial the template includes must exist (``allow_missing_partials=True`` accepts
        a deliberate forward reference); one leading back to this version is refused.
        """
        return self.registry.push(
            name,
            template=template if isinstance(template, str) else _plain_messages(template),
            syntax=syntax,
            type=type,
            config=config,
            variables_schema=variables_schema,
            message=message,
            author=author,
            tags=tags,
            labels=labels,
            description=description,
            allow_missing_partials=allow_missing_partials,
            default_label=default_label,
        )

    def push_many(self, pushes: Sequence[Mapping[str, Any]]) -> list[PushResult]:
        """Push several prompts in one transaction: every one of them, or none.

        Each mapping holds :meth:`push`'s keyword arguments plus ``name``; they are checked
        in order, so a partial may name a prompt pushed earlier in the list. A failure (or
        an interruption) writes nothing; the error names the failing prompt in
        ``details["name"]``. ``promptvault push`` of a folder goes through here.
        """
        plain = []
        for item in pushes:
            options = dict(item)
            template = options.get("template")
            if template is not None and not isinstance(template, str):
                options["template"] = _plain_messages(template)
            plain.append(options)
        return self.registry.push_many(plain)

    def get(
        self,
        ref: str,
        *,
        label: str | None = None,
        version: int | None = None,
        unit_id: str | None = _NO_UNIT,
        include_archived: bool = False,
    ) -> PromptVersion:
        """Resolve ``name``, ``name@label``, ``name@latest`` or ``name@7`` (cached).

        With ``unit_id``, a label reference goes through the experiment running on that
        prompt and label, if any: the unit's variant version comes back with
        ``experiment`` and ``variant`` set, and an exposure is recorded. ``unit_id=None``
        assigns at random (counted separately).

        An archived prompt raises ``PromptNotFound`` (``details['archived']``) unless
        ``include_archived`` (for views of the registry itself, such as the web UI's).
        """
        result: PromptVersion = self.registry.resolver.get(
            ref, label=label, version=version, include_archived=include_archived
        )
        if unit_id is _NO_UNIT:
            return result
        return self.experiments.route(result, unit_id)

    def render(
        self,
        ref: str,
        variables: Mapping[str, Any] | None = None,
        *,
        placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        strict: bool = True,
        unit_id: str | None = _NO_UNIT,
    ) -> Any:
        """Render a reference: a string, or a list of ``{"role", "content"}`` for chat.

        ``unit_id`` routes through a running experiment as in :meth:`get`.
        """
        if unit_id is not _NO_UNIT:
            routed = self.get(ref, unit_id=unit_id)
            if routed.experiment is not None:
                ref = f"{routed.name}@{routed.version}"
        return self.registry.resolver.render(
            ref, variables, placeholders=placeholders, strict=strict
        )

    def build(
        self,
        ref: str,
        variables: Mapping[str, Any] | None = None,
        *,
        unit_id: str | None = _NO_UNIT,
        examples: str | Mapping[str, Any] | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        now: datetime | None = None,
        strict: bool = True,
    ) -> BuiltRequest:
        """Resolve, select examples, render and assemble a provider-neutral request.

        ``examples`` is a collection name or ``{"collection", "strategy", "k", "query",
        "filters", "token_budget", "lambda", "seed"}`` (``query`` is a Mustache template
        rendered with ``variables``, e.g. ``"{{question}}"``; a missing collection means the
        one attached to the prompt). ``unit_id`` routes through a running experiment as in
        :meth:`get`. See :mod:`promptvault.builder.builder` for where examples and
        ``history`` go; ``placeholders`` fills a chat template's placeholders by name, as
        in :meth:`render`. ``req.to_openai()`` / ``req.to_anthropic()`` give SDK arguments.
        """
        if unit_id is _NO_UNIT:
            version: PromptVersion = self.registry.resolver.get(ref)
        else:
            version = self.get(ref, unit_id=unit_id)
        partials = self.registry.resolver.partial_sources(version)
        if examples is None:
            return self.builder.build(
                version,
                variables,
                history=history,
                placeholders=placeholders,
                now=now,
                strict=strict,
                partials=partials,
            )
        from promptvault.fewshot.models import parse_examples_spec

        picked = self.examples.select(
            parse_examples_spec(examples),
            variables,
            prompt=version.name,
            as_messages=not self.builder.reads_examples(version),
        )
        built = self.builder.build(
            version,
            variables,
            examples=picked.examples,
            examples_reason=picked.reason,
            example_template=picked.template,
            history=history,
            placeholders=placeholders,
            now=now,
            strict=strict,
            partials=partials,
            collection=picked.collection,
            strategy=picked.strategy,
        )
        self.examples.record_usage(built.metadata.example_ids)
        return built

    def get_prompt(self, name: str) -> PromptSummary:
        """One prompt's summary (latest version, labels, tags)."""
        return self.registry.get_prompt(name)

    def list_prompts(
        self,
        *,
        tag: str | None = None,
        search: str | None = None,
        folder: str | None = None,
        include_archived: bool = False,
        limit: int | None = 100,
        after: str | None = None,
    ) -> list[PromptSummary]:
        """Prompts sorted by name; ``after`` is the last name of the previous page."""
        return self.registry.list_prompts(
            tag=tag,
            search=search,
            folder=folder,
            include_archived=include_archived,
            limit=limit,
            after=after,
        )

    def versions(
        self, name: str, *, limit: int | None = None, before: int | None = None
    ) -> list[PromptVersion]:
        """Versions newest first, with the labels pointing at each."""
        return self.registry.versions(name, limit=limit, before=before)

    def archive(self, name: str, *, actor: str = "") -> PromptSummary:
        """Hide a prompt from listings and refuse pushes to it; it still resolves."""
        return self.registry.set_archived(name, True, actor=actor)

    def unarchive(self, name: str, *, actor: str = "") -> PromptSummary:
        """Undo :meth:`archive`."""
        return self.registry.set_archived(name, False, actor=actor)

    # --- labels -------------------------------------------------------------------------

    def labels(self, name: str) -> dict[str, int]:
        """``{label: version}`` (``latest`` is implicit and not listed)."""
        return self.registry.labels(name)

    def set_label(
        self,
        name: str,
        label: str,
        version: int,
        *,
        actor: str = "",
        override_gate: bool = False,
    ) -> LabelEvent:
        """Point ``label`` at ``version``.

        A label with an eval gate (``vault.evals.set_gate``) moves only to a version with a
        passing run and no significant regression; otherwise ``EvalGateError`` (code
        ``eval_gate_failed``) carries the gate's reasons. ``override_gate=True`` moves it
        anyway and records the failed gate in the audit log.
        """
        gate = self.evals.check_gate(name, label, version)
        if gate is not None and not gate.passed:
            if not override_gate:
                raise EvalGateError(
                    f"{name}@{label} is gated on dataset {gate.dataset!r}: "
                    + "; ".join(gate.reasons),
                    details={"field": "version", **gate.model_dump(mode="json")},
                )
            self.evals.record_override(gate, actor=actor)
        return self.registry.set_label(name, label, version, actor=actor)

    def approve_request(
        self, request_id: int, *, actor: str = "", comment: str = ""
    ) -> ChangeRequest:
        """Approve a change request (``vault.requests``) and make its move.

        The label's eval gate applies as to any move: a version without a passing run is
        refused (``EvalGateError``); the request stays open.
        """
        change = self.requests.get(request_id)
        if change.status == "open":
            gate = self.evals.check_gate(change.prompt, change.label, change.to_version)
            if gate is not None and not gate.passed:
                raise EvalGateError(
                    f"{change.prompt}@{change.label} is gated on dataset {gate.dataset!r}: "
                    + "; ".join(gate.reasons),
                    details={"field": "id", **gate.model_dump(mode="json")},
                )
        return self.requests.approve(request_id, actor=actor, comment=comment)

    def set_labels(
        self, name: str, labels: Sequence[str], version: int, *, actor: str = ""
    ) -> list[LabelEvent]:
        """Point several labels at ``version`` in one transaction (all move or none)."""
        return self.registry.set_labels(name, labels, version, actor=actor)

    def rollback(self, name: str, *, label: str = "production", actor: str = "") -> LabelEvent:
        """Move ``label`` back to where it pointed before its last move."""
        return self.registry.rollback(name, label=label, actor=actor)

    def delete_label(self, name: str, label: str, *, actor: str = "") -> LabelEvent:
        """Remove ``label`` from the prompt (its history is kept)."""
        return self.registry.delete_label(name, label, actor=actor)

    def label_history(self, name: str, label: str | None = None) -> list[LabelEvent]:
        """Label moves, newest first."""
        return self.registry.label_history(name, label)

    def diff(self, a_ref: str, b_ref: str) -> PromptDiff:
        """What changed from ``a_ref`` to ``b_ref``: text per message, config, schema."""
        return diff_versions(self.get(a_ref), self.get(b_ref), a_ref=a_ref, b_ref=b_ref)

    # --- backup -------------------------------------------------------------------------

    def backup(self, path: str | Path) -> BackupResult:
        """Write a consistent backup of the whole database to ``path``, online.

        Everything is in it: prompts, versions, labels and their history, the audit log and
        its checkpoints, API keys (digests), experiments with their events and statistics,
        collections with their examples and embeddings. SQLite is copied with the sqlite3
        backup API (a SQLite file); PostgreSQL is exported in one ``REPEATABLE READ``
        transaction (JSON lines, gzip when ``path`` ends in ``.gz``). Writers are not
        stopped. Restore it with :meth:`Vault.restore`.
        """
        from promptvault.storage.backup import backup

        return backup(self.db, Path(path))

    @classmethod
    def restore(
        cls,
        path: str | Path,
        *,
        url: str | None = None,
        settings: Settings | None = None,
        force: bool = False,
        actor: str = "",
        resign: bool = False,
    ) -> RestoreResult:
        """Load a backup made by :meth:`backup` into the configured (or ``url``) database.

        All or nothing, in one transaction: refuses a database that holds anything unless
        ``force`` (which replaces its contents), checks the restored audit chain and its
        signed checkpoints (the audit key must be the one the backed-up database used, or
        ``resign`` signs them again with this one when that key is lost), and records
        ``backup.restore`` in the audit log. Stop servers on the database first.
        """
        from promptvault.storage.backup import restore

        vault = cls.open(url, settings=settings)
        try:
            return restore(vault.db, Path(path), force=force, actor=actor, resign=resign)
        finally:
            vault.close()

    def export(self, path: str | Path) -> int:
        """Write the prompts (versions, labels, label history, tags) as portable JSON.

        Not a backup: collections, experiments, API keys and the audit log are not in it
        (use :meth:`backup`). Returns the number of prompts.
        """
        from promptvault.registry.transfer import export_registry

        return export_registry(self.db, Path(path))

    def import_(self, path: str | Path, *, actor: str = "") -> int:
        """Add the prompts of a file written by :meth:`export` (names must be new);
        returns the number of prompts imported."""
        from promptvault.registry.transfer import import_registry

        count = import_registry(self.db, Path(path), actor=actor or self.registry.actor)
        self.registry.resolver.invalidate()
        return count

    def import_from(
        self,
        format: str,
        source: str | Path | None = None,
        *,
        actor: str = "",
        host: str | None = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> ImportReport:
        """Import prompts from another tool: ``langfuse`` (a running Langfuse at ``host``
        with its key pair), ``humanloop`` (``.prompt`` files), ``langchain`` (serialized
        prompt JSON) or ``seed-json`` (the single-JSON-file registry).

        All or nothing, and idempotent: prompts already here with the same versions are
        left alone (a second import creates nothing); one with different content is a
        conflict and nothing is written. Authors, times, commit messages, labels and tags
        are kept where the format has them; the report lists what could not be carried.
        """
        from promptvault.registry.importers import apply_import, read_source

        actor = actor or self.registry.actor
        read = read_source(
            format, source, host=host, public_key=public_key, secret_key=secret_key, actor=actor
        )
        origin = str(host or source)
        report = apply_import(self.db, read, format=format, actor=actor, origin=origin)
        self.registry.resolver.invalidate()
        return report

    def import_seed_registry(self, path: str | Path, *, actor: str = "") -> int:
        """Import the single-JSON-file registry format; ``active_version`` -> production."""
        from promptvault.registry.seed import import_seed

        count = import_seed(self.registry, Path(path), actor=actor)
        self.registry.resolver.invalidate()
        return count


def _plain_messages(template: Sequence[Any]) -> list[Any]:
    """Copy message mappings to dicts; anything else is left for the registry to refuse."""
    return [dict(m) if isinstance(m, Mapping) else m for m in template]
