"""Remote mode: the commands' store is a server, reached through the SDK.

:class:`RemoteBackend` is a :class:`~promptvault.store.PromptStore` (mypy checks it in
``promptvault._store_check``) that forwards each operation to the SDK client, also typed as
the protocol. The server records who acts from the API key, so the ``author``/``actor``
arguments the commands pass are dropped here. What the HTTP API does not offer to the SDK
(export, import, backups) says so instead of failing obscurely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from promptvault.errors import InvalidInputError

if TYPE_CHECKING:
    from promptvault.builder import BuiltRequest
    from promptvault.client import PromptVaultClient
    from promptvault.client._changes_sync import ClientChanges
    from promptvault.client._evals_sync import ClientEvals
    from promptvault.client.experiments import ClientExperiments
    from promptvault.entities import (
        LabelEvent,
        PromptDiff,
        PromptSummary,
        PromptVersion,
        PushResult,
    )
    from promptvault.store import AuditTrail, PromptStore, Template

__all__ = ["ADMIN_KEY_FILE", "RemoteBackend", "open_remote"]

# Where ``promptvault serve`` stores the first admin key for the CLI on the same machine.
ADMIN_KEY_FILE = "admin.key"
_NO_UNIT: Any = object()


def _local_only(what: str) -> NoReturn:
    raise InvalidInputError(
        f"{what} works on a database, not through a server: run it where the database is "
        "reachable with --db, or unset PROMPTVAULT_URL",
        details={"field": "--server", "operation": what},
    )


class RemoteBackend:
    """The CLI's store in remote mode: every protocol operation goes to the server."""

    def __init__(self, client: PromptVaultClient) -> None:
        self.client = client
        self.store: PromptStore = client

    @property
    def audit(self) -> AuditTrail:
        """The server's audit log (``verify`` needs an admin key)."""
        return self.store.audit

    @property
    def events(self) -> ClientChanges:
        """The server's change events."""
        return self.client.events

    @property
    def evals(self) -> ClientEvals:
        """Datasets, providers, runs, comparisons and gates through ``/v1/datasets`` and
        ``/v1/evals`` (the same methods as ``vault.evals``)."""
        return self.client.evals

    @property
    def experiments(self) -> ClientExperiments:
        """Experiments through ``/v1/experiments``."""
        return self.client.experiments

    def get(self, ref: str, *, unit_id: str | None = _NO_UNIT) -> PromptVersion:
        """Resolve a reference."""
        if unit_id is _NO_UNIT:
            return self.store.get(ref)
        return self.store.get(ref, unit_id=unit_id)

    def render(
        self,
        ref: str,
        variables: Mapping[str, Any] | None = None,
        *,
        placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        strict: bool = True,
        unit_id: str | None = _NO_UNIT,
    ) -> Any:
        """Render a reference."""
        if unit_id is _NO_UNIT:
            return self.store.render(ref, variables, placeholders=placeholders, strict=strict)
        return self.store.render(
            ref, variables, placeholders=placeholders, strict=strict, unit_id=unit_id
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
        """Build a provider-neutral request."""
        options: dict[str, Any] = {"examples": examples, "history": history, "now": now}
        if placeholders is not None:
            options["placeholders"] = placeholders
        if unit_id is not _NO_UNIT:
            options["unit_id"] = unit_id
        return self.store.build(ref, variables, strict=strict, **options)

    def push(
        self,
        name: str,
        *,
        template: Template,
        syntax: str = "mustache",
        type: str | None = None,
        config: Mapping[str, Any] | None = None,
        variables_schema: Mapping[str, Any] | None = None,
        message: str = "",
        tags: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        description: str | None = None,
        allow_missing_partials: bool = False,
        author: str = "",
    ) -> PushResult:
        """Push through the server (it records the key's name as the author)."""
        return self.store.push(
            name,
            template=template,
            syntax=syntax,
            type=type,
            config=config,
            variables_schema=variables_schema,
            message=message,
            tags=tags,
            labels=labels,
            description=description,
            allow_missing_partials=allow_missing_partials,
        )

    def get_prompt(self, name: str) -> PromptSummary:
        """A prompt's summary."""
        return self.store.get_prompt(name)

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
        """One page of prompts by name."""
        return self.store.list_prompts(
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
        """Versions newest first."""
        return self.store.versions(name, limit=limit, before=before)

    def archive(self, name: str, *, actor: str = "") -> PromptSummary:
        """Archive a prompt."""
        return self.store.archive(name)

    def labels(self, name: str) -> dict[str, int]:
        """Where each label points."""
        return self.store.labels(name)

    def set_label(
        self, name: str, label: str, version: int, *, actor: str = "", override_gate: bool = False
    ) -> LabelEvent:
        """Move a label."""
        return self.store.set_label(name, label, version, override_gate=override_gate)

    def rollback(self, name: str, *, label: str = "production", actor: str = "") -> LabelEvent:
        """Move a label back."""
        return self.store.rollback(name, label=label)

    def delete_label(self, name: str, label: str, *, actor: str = "") -> LabelEvent:
        """Remove a label."""
        return self.store.delete_label(name, label)

    def label_history(self, name: str, label: str | None = None) -> list[LabelEvent]:
        """Moves of one label, or of every label, newest first."""
        return self.store.label_history(name, label)

    def diff(self, a_ref: str, b_ref: str) -> PromptDiff:
        """What changed between two references."""
        return self.store.diff(a_ref, b_ref)

    def backup(self, path: str | Path) -> NoReturn:
        """Not offered by the server."""
        _local_only("backup")

    def export(self, path: str | Path) -> NoReturn:
        """Not offered by the server."""
        _local_only("export")

    def import_(self, path: str | Path, **_kw: Any) -> NoReturn:
        """Not offered by the server."""
        _local_only("import")

    def import_seed_registry(self, path: str | Path, **_kw: Any) -> NoReturn:
        """Not offered by the server."""
        _local_only("import-seed")

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()


def open_remote(url: str, api_key: str | None, home: Path) -> RemoteBackend:
    """A RemoteBackend on ``url``; the key defaults to the one ``serve`` left in ``home``."""
    from promptvault.client import PromptVaultClient

    key = api_key
    if not key:
        stored = home / ADMIN_KEY_FILE
        if stored.is_file():
            key = stored.read_text(encoding="utf-8").strip() or None
    # A command reads once and exits: no cache to keep fresh, no disk fallback.
    client = PromptVaultClient(url, key, cache_ttl=0, timeout=10.0)
    return RemoteBackend(client)
