"""Few-shot collections and their examples as a unit of work sees them: values in and out.

The few-shot service works through :class:`CollectionRepository` (``work.collections``).
A collection comes back as :class:`StoredCollection` (what a write checks) or as a dict of
its fields (storage sits below the few-shot package and cannot build its ``Collection``);
examples come back as :class:`~promptvault.entities.Example` entities. Stored state changes
only through explicit calls. The SQL lives in :mod:`promptvault.storage.fewshot`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from promptvault.entities import Example
from promptvault.storage import fewshot as store
from promptvault.storage.fewshot import ExampleRecord
from promptvault.storage.tables import CollectionRow

__all__ = ["CollectionRepository", "ExampleRecord", "StoredCollection"]


class StoredCollection(NamedTuple):
    """What a write reads of a collection before changing it."""

    id: int
    name: str
    embedder: str
    embedder_spec: str
    dim: int
    revision: int


class CollectionRepository:
    """The few-shot tables within one transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # --- collections ------------------------------------------------------------------

    def find(self, name: str) -> StoredCollection | None:
        """Collection ``name`` (one indexed read, no example count), or None."""
        row = store.collection_row(self._session, name)
        if row is None:
            return None
        return StoredCollection(
            row.id, row.name, row.embedder, row.embedder_spec, row.dim, row.revision
        )

    def fields(self, *, name: str | None = None, prompt: str | None = None) -> list[dict[str, Any]]:
        """Collections' fields by name (one, those attached to ``prompt``, or all), with
        sizes."""
        return store.collections(self._session, name=name, prompt=prompt)

    def revision(self, name: str) -> int | None:
        """The collection's revision (None when it does not exist)."""
        return store.revision_of(self._session, name)

    def near_names(self, name: str) -> list[str]:
        """Collection names close to ``name`` (for "did you mean")."""
        return store.near_collection_names(self._session, name)

    def prompt_id(self, name: str) -> int | None:
        """The key of the prompt called ``name``, or None."""
        return store.prompt_id(self._session, name)

    def create(self, **fields: Any) -> None:
        """Insert a collection with ``fields`` (every column but the key)."""
        self._session.add(CollectionRow(**fields))
        self._session.flush()

    def update(self, collection_id: int, **fields: Any) -> None:
        """Set some of a collection's columns."""
        row = self._session.get(CollectionRow, collection_id)
        assert row is not None
        for key, value in fields.items():
            setattr(row, key, value)
        self._session.flush()

    def delete(self, collection_id: int) -> None:
        """Delete a collection and all its examples."""
        row = self._session.get(CollectionRow, collection_id)
        assert row is not None
        self._session.delete(row)
        self._session.flush()

    def bump_revision(self, collection_id: int, *, actor: str, at: datetime) -> int:
        """Add one to the revision (and stamp the update); returns the new revision."""
        return store.bump_revision(self._session, collection_id, actor=actor, at=at)

    # --- examples ---------------------------------------------------------------------

    def examples(self, collection_id: int, collection: str, **filters: Any) -> list[Example]:
        """Examples in id order (filters: :func:`promptvault.storage.fewshot.example_rows`)."""
        return store.example_rows(self._session, collection_id, collection, **filters)

    def records(self, collection_id: int, collection: str) -> list[ExampleRecord]:
        """Every example with its vector bytes, in id order."""
        return store.load_records(self._session, collection_id, collection)

    def categories(self, collection_id: int) -> list[str]:
        """The distinct categories used in a collection, sorted."""
        return store.categories(self._session, collection_id)

    def insert_examples(
        self, collection_id: int, rows: Sequence[Mapping[str, Any]], *, at: datetime
    ) -> list[int]:
        """Insert examples; returns their ids in order."""
        return store.insert_examples(self._session, collection_id, rows, at=at)

    def update_example(self, example_id: int, values: Mapping[str, Any]) -> None:
        """Change some fields of one example."""
        store.update_example(self._session, example_id, values)

    def delete_examples(self, collection_id: int, ids: Iterable[int]) -> list[int]:
        """Delete examples by id; returns the ids that existed."""
        return store.delete_examples(self._session, collection_id, ids)

    def set_embeddings(self, vectors: Sequence[tuple[int, bytes]]) -> None:
        """Replace the vectors of many examples."""
        store.set_embeddings(self._session, vectors)

    def add_usage(self, counts: Mapping[int, int]) -> None:
        """Add ``counts[id]`` to each example's usage count (atomic increments)."""
        store.add_usage(self._session, counts)
