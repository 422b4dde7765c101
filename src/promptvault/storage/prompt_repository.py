"""Prompts, versions, labels and tags as a unit of work sees them: values in, values out.

The registry service works through :class:`PromptRepository` (``work.prompts``); every
method returns an entity (:class:`PromptRef`, :class:`PromptVersion`, :class:`LabelEvent`,
:class:`PromptSummary`), a small value (:class:`PushHead`) or plain numbers and strings. No
ORM row leaves this module, and stored state changes only through explicit calls. The SQL
itself lives in :mod:`promptvault.storage.repositories`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from promptvault.entities import LabelEvent, PromptRef, PromptSummary, PromptVersion
from promptvault.storage import repositories as repo
from promptvault.storage.database import lock_prompt
from promptvault.storage.tables import LabelEventRow, PromptRow

__all__ = [
    "LabelMove",
    "PromptRepository",
    "PromptState",
    "PushHead",
    "StoredLabelEvent",
    "StoredPrompt",
    "StoredVersion",
]


class PushHead(NamedTuple):
    """What a push reads of its prompt: the prompt and its newest version's id and hash."""

    id: int
    archived: bool
    latest_version: int
    description: str
    newest_id: int | None
    newest_hash: str | None


class PromptState(NamedTuple):
    """What resolving reads of a prompt: its key, newest number, archive flag and labels."""

    id: int
    latest_version: int
    archived: bool
    labels: dict[str, int]


class LabelMove(NamedTuple):
    """One stored label move, as the rollback stack reads it (the action as stored)."""

    action: str
    from_version: int | None
    to_version: int


class StoredPrompt(NamedTuple):
    """A prompt's fields as stored, with its tags and labels (what an export carries)."""

    id: int
    name: str
    description: str
    type: str
    archived: bool
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    tags: tuple[str, ...]
    labels: dict[str, int]


class StoredVersion(NamedTuple):
    """A version's fields as stored (what an export carries)."""

    version: int
    type: str
    syntax: str
    template: Any
    config: dict[str, Any]
    variables_schema: dict[str, Any] | None
    message: str
    author: str
    created_at: datetime
    hash: str


class StoredLabelEvent(NamedTuple):
    """One label move as stored, the action as written (what an export carries)."""

    label: str
    from_version: int | None
    to_version: int
    action: str
    actor: str
    at: datetime


def _ref(row: PromptRow) -> PromptRef:
    return PromptRef(id=row.id, name=row.name, latest_version=row.latest_version or 0)


class PromptRepository:
    """The registry's tables within one transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # --- prompts ----------------------------------------------------------------------

    def get(self, name: str) -> PromptRef | None:
        """Prompt ``name``, or None."""
        row = repo.get_prompt(self._session, name)
        return None if row is None else _ref(row)

    def state(self, name: str) -> PromptState | None:
        """The prompt and its label pointers in one round trip (None: no such prompt)."""
        found = repo.resolve_state(self._session, name)
        if found is None:
            return None
        row, labels = found
        return PromptState(row.id, row.latest_version or 0, bool(row.archived), labels)

    def lock(self, name: str) -> None:
        """Order this transaction after any other writing prompt ``name`` (PostgreSQL only;
        see :func:`promptvault.storage.database.lock_prompt`)."""
        lock_prompt(self._session, name)

    def push_head(self, name: str) -> PushHead | None:
        """The prompt's head for a push, read under the prompt's lock (None: no such prompt)."""
        row = repo.push_head(self._session, name)
        if row is None:
            return None
        return PushHead(
            int(row.id),
            bool(row.archived),
            int(row.latest_version or 0),
            row.description or "",
            None if row.newest_id is None else int(row.newest_id),
            row.newest_hash,
        )

    def create(self, *, name: str, type: str, description: str, actor: str, at: datetime) -> int:
        """Insert a prompt with no versions yet; returns its id."""
        return repo.create_prompt(
            self._session, name=name, type=type, description=description, actor=actor, at=at
        ).id

    def touch(self, prompt_id: int, *, at: datetime, actor: str, **values: Any) -> None:
        """Record who changed the prompt and when (and set any other ``values``)."""
        repo.touch_prompt(self._session, prompt_id, at=at, actor=actor, **values)

    def add_tags(self, prompt_id: int, tags: Iterable[str]) -> list[str]:
        """Add the tags the prompt does not have yet; returns the ones added."""
        return repo.add_tags(self._session, prompt_id, tags)

    def set_archived(self, prompt_id: int, archived: bool, *, actor: str, at: datetime) -> bool:
        """Archive or unarchive; returns whether that changed anything."""
        row = self._session.get(PromptRow, prompt_id)
        assert row is not None
        if row.archived == archived:
            return False
        row.archived = archived
        row.updated_at = at
        row.updated_by = actor
        self._session.flush()
        return True

    def summary(self, prompt_id: int) -> PromptSummary:
        """The listing entity of one prompt."""
        row = self._session.get(PromptRow, prompt_id)
        assert row is not None
        return repo.summaries(self._session, [row])[0]

    def summary_of(self, name: str) -> PromptSummary | None:
        """The listing entity of prompt ``name``, or None."""
        row = repo.get_prompt(self._session, name)
        return None if row is None else repo.summaries(self._session, [row])[0]

    def summaries(self, **filters: Any) -> list[PromptSummary]:
        """Listing entities sorted by name (filters: :func:`repositories.list_prompt_rows`)."""
        rows = repo.list_prompt_rows(self._session, **filters)
        return repo.summaries(self._session, rows)

    def near_names(self, name: str) -> list[str]:
        """Stored names close to ``name`` (for "did you mean")."""
        return repo.near_prompt_names(self._session, name)

    # --- versions ---------------------------------------------------------------------

    def has_version(self, prompt_id: int, version: int) -> bool:
        """Whether the prompt has version ``version``."""
        return self.version_id(prompt_id, version) is not None

    def version_id(self, prompt_id: int, version: int) -> int | None:
        """The key of one version, or None."""
        row = repo.version_row(self._session, prompt_id, version)
        return None if row is None else row.id

    def insert_version(self, prompt_id: int, version: int, **fields: Any) -> int:
        """Insert a version (numbered under the prompt's lock); returns its key."""
        return repo.insert_version(self._session, prompt_id, version, **fields)

    def version(
        self, name: str, prompt_id: int, version: int, labels: Iterable[str] = ()
    ) -> PromptVersion | None:
        """One version's entity (with the ``labels`` given), or None."""
        row = repo.version_row(self._session, prompt_id, version)
        return None if row is None else repo.to_version(name, row, labels)

    def versions(
        self, name: str, prompt_id: int, *, limit: int | None = None, before: int | None = None
    ) -> list[PromptVersion]:
        """Versions newest first, each with the labels pointing at it now."""
        by_version: dict[int, list[str]] = {}
        for label, number in self.labels(prompt_id).items():
            by_version.setdefault(number, []).append(label)
        rows = repo.versions_page(self._session, prompt_id, limit=limit, before=before)
        return [repo.to_version(name, r, by_version.get(r.version, ())) for r in rows]

    # --- labels -----------------------------------------------------------------------

    def labels(self, prompt_id: int) -> dict[str, int]:
        """``{label: version number}`` of one prompt."""
        return repo.labels_of(self._session, prompt_id)

    def set_label(
        self, prompt_id: int, label: str, version_id: int, *, actor: str, at: datetime
    ) -> None:
        """Point ``label`` at the version keyed ``version_id``."""
        repo.set_label_row(self._session, prompt_id, label, version_id, actor=actor, at=at)

    def delete_label(self, prompt_id: int, label: str) -> None:
        """Remove a label pointer (its history stays)."""
        repo.delete_label_row(self._session, prompt_id, label)

    def record_label_event(
        self,
        prompt_id: int,
        *,
        label: str,
        from_version: int | None,
        to_version: int,
        action: str,
        actor: str,
        at: datetime,
    ) -> int:
        """Append one move to the label's history; returns the event's id."""
        return repo.insert_label_event(
            self._session,
            prompt_id,
            label=label,
            from_version=from_version,
            to_version=to_version,
            action=action,
            actor=actor,
            at=at,
        )

    def label_event(self, name: str, event_id: int) -> LabelEvent:
        """One recorded move."""
        return repo.to_label_event(name, repo.label_event(self._session, event_id))

    def last_label_event_id(self, prompt_id: int, label: str) -> int | None:
        """The id of the label's newest move, or None."""
        rows = repo.label_events(self._session, prompt_id, label, limit=1)
        return rows[0].id if rows else None

    def label_moves(self, prompt_id: int, label: str) -> list[LabelMove]:
        """The label's moves oldest first, with actions as stored."""
        rows = repo.label_events(self._session, prompt_id, label, oldest_first=True)
        return [LabelMove(r.action, r.from_version, r.to_version) for r in rows]

    def label_history(
        self, name: str, prompt_id: int, label: str | None = None
    ) -> list[LabelEvent]:
        """Moves newest first (one label, or all of the prompt's)."""
        rows = repo.label_events(self._session, prompt_id, label)
        return [repo.to_label_event(name, r) for r in rows]

    # --- export and import (registry/transfer.py) ---------------------------------------

    def stored_prompts(self) -> list[StoredPrompt]:
        """Every prompt, archived ones too, sorted by name."""
        rows = repo.list_prompt_rows(self._session, include_archived=True, limit=None)
        ids = [row.id for row in rows]
        tags = repo.tags_by_prompt(self._session, ids)
        labels = repo.labels_by_prompt(self._session, ids)
        return [
            StoredPrompt(
                row.id,
                row.name,
                row.description,
                row.type,
                row.archived,
                row.created_at,
                row.created_by,
                row.updated_at,
                row.updated_by,
                tags[row.id],
                labels[row.id],
            )
            for row in rows
        ]

    def stored_versions(self, prompt_id: int) -> list[StoredVersion]:
        """Every version of a prompt, oldest first, as stored (not clamped)."""
        rows = reversed(repo.versions_page(self._session, prompt_id))
        return [
            StoredVersion(
                r.version,
                r.type,
                r.syntax,
                r.template,
                r.config,
                r.variables_schema,
                r.message,
                r.author,
                r.created_at,
                r.hash,
            )
            for r in rows
        ]

    def stored_label_events(self, prompt_id: int) -> list[StoredLabelEvent]:
        """Every label move of a prompt, oldest first, as stored."""
        rows = repo.label_events(self._session, prompt_id, oldest_first=True)
        return [
            StoredLabelEvent(r.label, r.from_version, r.to_version, r.action, r.actor, r.at)
            for r in rows
        ]

    def version_hash(self, prompt_id: int, version: int) -> str | None:
        """The content hash of one version, or None when there is no such version."""
        row = repo.version_row(self._session, prompt_id, version)
        return None if row is None else row.hash

    def insert_stored(
        self,
        *,
        name: str,
        description: str,
        type: str,
        archived: bool,
        latest_version: int,
        created_at: datetime,
        created_by: str,
        updated_at: datetime,
        updated_by: str,
    ) -> int:
        """Insert a prompt with every field given (an import keeps them); returns its id.
        Its versions follow with :meth:`insert_version`."""
        row = PromptRow(
            name=name,
            description=description,
            type=type,
            archived=archived,
            latest_version=latest_version,
            created_at=created_at,
            created_by=created_by,
            updated_at=updated_at,
            updated_by=updated_by,
        )
        self._session.add(row)
        self._session.flush()
        return row.id

    def add_label_events(self, prompt_id: int, events: Iterable[StoredLabelEvent]) -> None:
        """Add label moves as given (an import's history); written at the next flush."""
        self._session.add_all(
            LabelEventRow(
                prompt_id=prompt_id,
                label=e.label,
                from_version=e.from_version,
                to_version=e.to_version,
                action=e.action,
                actor=e.actor,
                at=e.at,
            )
            for e in events
        )
