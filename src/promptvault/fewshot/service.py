"""Few-shot collections and examples over a database: ``vault.examples``.

Every write (collection create/update/attach/delete, example add/edit/delete/import, an
embedder change) runs in one write transaction that also bumps the collection's revision
and appends to the audit log, so a write is all or nothing and always audited. Vectors are
computed before the transaction (embedding may be slow or remote) and the transaction checks
that the collection's embedder did not change meanwhile.

Selection for builds (:meth:`ExampleService.select`) reads the per-process snapshot in
:class:`~promptvault.fewshot.runtime.CollectionCache`; usage counts go to a
:class:`~promptvault.fewshot.usage.UsageCounter` and reach the database in batches.
Import, export and search live in :mod:`promptvault.fewshot.transfer`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from promptvault.config import Settings
from promptvault.entities import Example
from promptvault.errors import ConflictError, InvalidInputError
from promptvault.fewshot import transfer
from promptvault.fewshot.collection_picker import Picker
from promptvault.fewshot.embedders import EMBEDDERS, Embedder, Vectors, get_embedder
from promptvault.fewshot.examples_for_build import Selection
from promptvault.fewshot.index import vector_bytes
from promptvault.fewshot.io import check_example
from promptvault.fewshot.models import (
    Collection,
    ImportReport,
    check_collection_name,
    check_count,
    check_strategy,
    check_template,
)
from promptvault.fewshot.runtime import CollectionCache, Loaded, not_found
from promptvault.fewshot.transfer import EMBED_BATCH
from promptvault.fewshot.usage import UsageCounter
from promptvault.storage.collection_repository import StoredCollection
from promptvault.storage.database import Database
from promptvault.storage.unit_of_work import UnitOfWork, utcnow

__all__ = ["UNSET", "ExampleService", "Progress", "Selection"]

Progress = Callable[[int, int], None]
"""``progress(done, total)``, called as embedding advances."""

UNSET: Any = object()


def _target(name: str) -> str:
    return f"collection:{name}"


_List = list  # the service has a method called list


class ExampleService:
    """Collections of few-shot examples, their vectors and selection."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        clock: Callable[[], float] | None = None,
        embedders: Mapping[str, Embedder] | None = None,
        usage_every: int = 1000,
        usage_seconds: float = 5.0,
    ) -> None:
        self.db = db
        self.settings = settings
        self._embedders: dict[str, Embedder] = dict(embedders or {})
        self.cache = CollectionCache(
            db,
            self.embedder,
            ttl=settings.label_ttl,
            clock=clock,
            approximate_from=settings.examples_approximate_from,
        )
        self.usage = UsageCounter(self._write_usage, every=usage_every, seconds=usage_seconds)
        self.picker = Picker(db, self.cache)
        self.select = self.picker.select

    def embedder(self, name: str) -> Embedder:
        """The embedder called ``name`` (one instance per service)."""
        found = self._embedders.get(name)
        if found is None:
            found = get_embedder(name, self.settings)
            self._embedders[name] = found
        return found

    # --- collections ----------------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        embedder: str = "hashing",
        description: str = "",
        example_template: str | None = None,
        query_template: str | None = None,
        prompt: str | None = None,
        strategy: str = "semantic",
        k: int = 3,
        token_budget: int | None = None,
        actor: str = "",
    ) -> Collection:
        """A new, empty collection; ``embedder``: ``hashing`` (default), ``minilm``, ``openai``."""
        check_collection_name(name)
        if embedder not in EMBEDDERS:
            raise InvalidInputError(
                f"embedder must be one of {', '.join(EMBEDDERS)}, not {embedder!r}",
                details={"field": "embedder", "value": repr(embedder)},
            )
        instance = self.embedder(embedder)
        spec, dim = instance.spec, instance.dim
        values = {
            "description": str(description or ""),
            "example_template": check_template(example_template, "example_template"),
            "query_template": check_template(query_template, "query_template"),
            "strategy": check_strategy(strategy),
            "k": check_count(k, "k", optional=False),
            "token_budget": check_count(token_budget, "token_budget", optional=True),
        }

        def work(w: UnitOfWork) -> None:
            if w.collections.find(name) is not None:
                raise ConflictError(
                    f"a collection named {name!r} already exists",
                    details={"field": "name", "value": name},
                )
            at = utcnow()
            w.collections.create(
                name=name,
                embedder=embedder,
                embedder_spec=spec,
                dim=dim,
                prompt_id=self._prompt_id(w, prompt),
                revision=1,
                created_at=at,
                created_by=actor,
                updated_at=at,
                updated_by=actor,
                **values,
            )
            w.audit(
                actor=actor,
                action="collection.create",
                target=_target(name),
                details={"embedder": spec, "prompt": prompt, **values},
            )

        self.db.write_work(work)
        self.picker.forget_attachments()
        return self.get(name)

    @staticmethod
    def _prompt_id(work: UnitOfWork, prompt: str | None) -> int | None:
        if prompt is None:
            return None
        found = work.collections.prompt_id(prompt)
        if found is None:
            from promptvault.errors import PromptNotFound

            raise PromptNotFound(
                f"no prompt named {prompt!r} to attach the collection to",
                details={"field": "prompt", "name": prompt},
            )
        return found

    def get(self, name: str) -> Collection:
        """One collection (with its size and attached prompt)."""
        with self.db.read_work() as work:
            found = work.collections.fields(name=name)
            if not found:
                raise not_found(name, work.collections.near_names(name))
        return Collection(**found[0])

    def list(self, *, prompt: str | None = None) -> list[Collection]:
        """Every collection by name (or those attached to ``prompt``)."""
        with self.db.read_work() as work:
            return [Collection(**c) for c in work.collections.fields(prompt=prompt)]

    def update(
        self,
        name: str,
        *,
        description: Any = UNSET,
        example_template: Any = UNSET,
        query_template: Any = UNSET,
        strategy: Any = UNSET,
        k: Any = UNSET,
        token_budget: Any = UNSET,
        actor: str = "",
    ) -> Collection:
        """Change a collection's format or selection defaults (only the arguments given)."""
        values: dict[str, Any] = {}
        if description is not UNSET:
            values["description"] = str(description or "")
        if example_template is not UNSET:
            values["example_template"] = check_template(example_template, "example_template")
        if query_template is not UNSET:
            values["query_template"] = check_template(query_template, "query_template")
        if strategy is not UNSET:
            values["strategy"] = check_strategy(strategy)
        if k is not UNSET:
            values["k"] = check_count(k, "k", optional=False)
        if token_budget is not UNSET:
            values["token_budget"] = check_count(token_budget, "token_budget", optional=True)

        def change(work: UnitOfWork, stored: StoredCollection) -> dict[str, Any]:
            work.collections.update(stored.id, **values)
            return values

        self._write(name, change, "collection.update", actor, reload=True)
        return self.get(name)

    def attach(self, name: str, prompt: str | None, *, actor: str = "") -> Collection:
        """Attach the collection to ``prompt`` (None detaches it)."""

        def change(work: UnitOfWork, stored: StoredCollection) -> dict[str, Any]:
            work.collections.update(stored.id, prompt_id=self._prompt_id(work, prompt))
            return {"prompt": prompt}

        self._write(name, change, "collection.attach", actor, reload=True)
        self.picker.forget_attachments()
        return self.get(name)

    def delete(self, name: str, *, actor: str = "") -> None:
        """Delete a collection and all its examples."""
        self.flush_usage()

        def work(w: UnitOfWork) -> None:
            stored = w.collections.find(name)
            if stored is None:
                raise not_found(name)
            size = len(w.collections.examples(stored.id, name))
            w.collections.delete(stored.id)
            w.audit(
                actor=actor,
                action="collection.delete",
                target=_target(name),
                details={"examples": size},
            )

        self.db.write_work(work)
        self.cache.drop(name)
        self.picker.forget_attachments()

    def _write(
        self,
        name: str,
        change: Callable[[UnitOfWork, StoredCollection], dict[str, Any]],
        action: str,
        actor: str,
        *,
        spec: str | None = None,
        reload: bool = False,
    ) -> tuple[int, int, dict[str, Any]]:
        """Run ``change`` on the collection, bump the revision and audit, in one go.

        Returns ``(old revision, new revision, audit details)``. ``spec`` is the embedder
        spec the caller's vectors were made with; a different one in the row is a conflict.
        """

        def work(w: UnitOfWork) -> tuple[int, int, dict[str, Any]]:
            stored = w.collections.find(name)
            if stored is None:
                raise not_found(name)
            if spec is not None and stored.embedder_spec != spec:
                raise ConflictError(
                    f"collection {name!r} changed embedder while its vectors were computed; "
                    "try again",
                    details={"field": "embedder", "stored": stored.embedder_spec, "used": spec},
                )
            details = change(w, stored)
            w.flush()
            new = w.collections.bump_revision(stored.id, actor=actor, at=utcnow())
            w.audit(actor=actor, action=action, target=_target(name), details=details)
            return stored.revision, new, details

        result = self.db.write_work(work)
        if reload:
            self.cache.drop(name)
        return result

    # --- examples -------------------------------------------------------------------------

    def _space(self, name: str) -> tuple[Embedder, str]:
        """The embedder of collection ``name`` and the spec its vectors are made with.

        One indexed read of the collection row: no example count, so adding to a large
        collection does not cost a scan of it.
        """
        with self.db.read_work() as work:
            stored = work.collections.find(name)
            if stored is None:
                raise not_found(name, work.collections.near_names(name))
        embedder_name, spec = stored.embedder, stored.embedder_spec
        return self.cache.embedder_of(name, embedder_name, spec), spec

    @staticmethod
    def _embed(
        embedder: Embedder, texts: Sequence[str], progress: Progress | None = None
    ) -> Vectors:
        total = len(texts)
        parts: _List[Vectors] = []
        for start in range(0, total, EMBED_BATCH):
            parts.append(embedder.embed(texts[start : start + EMBED_BATCH]))
            if progress is not None:
                progress(min(start + EMBED_BATCH, total), total)
        if not parts:
            return np.zeros((0, embedder.dim), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def add(
        self,
        name: str,
        input: str,
        output: str,
        *,
        category: str | None = None,
        quality: float = 1.0,
        metadata: Mapping[str, Any] | None = None,
        actor: str = "",
    ) -> Example:
        """Add one example (embedded now)."""
        row = {
            "input": input,
            "output": output,
            "category": category,
            "quality": quality,
            "metadata": dict(metadata or {}),
        }
        return self.add_many(name, [row], actor=actor)[0]

    def add_many(
        self,
        name: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        actor: str = "",
        progress: Progress | None = None,
        action: str = "example.add",
        audit: Mapping[str, Any] | None = None,
    ) -> _List[Example]:
        """Add examples in one transaction (all or none); each row is checked first."""
        checked = []
        for i, raw in enumerate(rows):
            if not isinstance(raw, Mapping):
                raise InvalidInputError(
                    f"examples[{i}] must be an object", details={"field": f"examples[{i}]"}
                )
            try:
                checked.append(check_example(raw))
            except InvalidInputError as err:
                field = f"examples[{i}].{err.details.get('field')}"
                raise InvalidInputError(err.message, details={"field": field}) from None
        embedder, spec = self._space(name)
        vectors = self._embed(embedder, [r["input"] for r in checked], progress)
        at = utcnow()
        inserted: _List[int] = []

        def change(work: UnitOfWork, stored: StoredCollection) -> dict[str, Any]:
            values = [
                {**r, "embedding": vector_bytes(v)} for r, v in zip(checked, vectors, strict=True)
            ]
            inserted[:] = work.collections.insert_examples(stored.id, values, at=at)
            details: dict[str, Any] = {"count": len(inserted), **(audit or {})}
            if len(inserted) <= 20:
                details["ids"] = list(inserted)
            return details

        old, new, _ = self._write(name, change, action, actor, spec=spec)
        added = [
            Example.model_construct(id=i, collection=name, created_at=at, usage_count=0, **r)
            for i, r in zip(inserted, checked, strict=True)
        ]

        def apply(loaded: Loaded) -> Loaded:
            index = loaded.index.appended(new, added, vectors)
            info = loaded.collection.model_copy(update={"revision": new, "size": index.n})
            return Loaded(info, index, loaded.embedder)

        self.cache.apply(name, old, apply)
        return added

    def edit(
        self,
        name: str,
        example_id: int,
        *,
        actor: str = "",
        **changes: Any,
    ) -> Example:
        """Change fields of one example (``input``, ``output``, ``category``, ``quality``,
        ``metadata``); a new input is re-embedded."""
        values = check_example(changes, partial=True)
        if not values:
            raise InvalidInputError("nothing to change", details={"field": "changes"})
        embedder, spec = self._space(name)
        vector = self._embed(embedder, [values["input"]])[0] if "input" in values else None
        found: _List[Example] = []

        def change(work: UnitOfWork, stored: StoredCollection) -> dict[str, Any]:
            current = work.collections.examples(stored.id, name, ids=[example_id])
            if not current:
                raise InvalidInputError(
                    f"collection {name!r} has no example {example_id}",
                    details={"field": "id", "value": example_id},
                )
            update = dict(values)
            if vector is not None:
                update["embedding"] = vector_bytes(vector)
            work.collections.update_example(example_id, update)
            found[:] = [current[0].model_copy(update=values)]
            return {"id": example_id, "fields": sorted(values)}

        old, new, _ = self._write(name, change, "example.edit", actor, spec=spec)
        edited = found[0]

        def apply(loaded: Loaded) -> Loaded:
            index = loaded.index.replaced(new, edited, vector)
            info = loaded.collection.model_copy(update={"revision": new})
            return Loaded(info, index, loaded.embedder)

        self.cache.apply(name, old, apply)
        return edited

    def remove(self, name: str, ids: Sequence[int], *, actor: str = "") -> int:
        """Delete examples by id; returns how many existed (unknown ids are named in an error
        only when none of the ids exist)."""
        wanted = [int(i) for i in ids]
        gone: _List[int] = []

        def change(work: UnitOfWork, stored: StoredCollection) -> dict[str, Any]:
            gone[:] = work.collections.delete_examples(stored.id, wanted)
            if not gone:
                raise InvalidInputError(
                    f"collection {name!r} has none of the examples {wanted}",
                    details={"field": "ids", "value": wanted},
                )
            return {"ids": gone}

        old, new, _ = self._write(name, change, "example.delete", actor)

        def apply(loaded: Loaded) -> Loaded:
            index = loaded.index.without(new, gone)
            info = loaded.collection.model_copy(update={"revision": new, "size": index.n})
            return Loaded(info, index, loaded.embedder)

        self.cache.apply(name, old, apply)
        return len(gone)

    def examples(
        self,
        name: str,
        *,
        category: str | None = None,
        limit: int | None = None,
        after: int | None = None,
        ids: Sequence[int] | None = None,
        contains: str | None = None,
    ) -> _List[Example]:
        """Examples in id order with their usage counts (this process's pending counts are
        written first, so the numbers are current); ``contains`` keeps those whose input or
        output holds that text, case-insensitively."""
        self.flush_usage()
        with self.db.read_work() as work:
            stored = work.collections.find(name)
            if stored is None:
                raise not_found(name, work.collections.near_names(name))
            return work.collections.examples(
                stored.id,
                name,
                ids=ids,
                category=category,
                limit=limit,
                after=after,
                contains=contains,
            )

    def categories(self, name: str) -> _List[str]:
        """The distinct categories of collection ``name``'s examples."""
        with self.db.read_work() as work:
            stored = work.collections.find(name)
            if stored is None:
                raise not_found(name, work.collections.near_names(name))
            return work.collections.categories(stored.id)

    # --- bulk and search (see promptvault.fewshot.transfer) ---------------------------------

    def set_embedder(
        self, name: str, embedder: str, *, actor: str = "", progress: Progress | None = None
    ) -> Collection:
        """Switch the collection to another embedder and re-embed every example (progress
        is reported per batch)."""
        return transfer.reembed(self, name, embedder, actor=actor, progress=progress)

    def import_text(self, name: str, text: str, **options: Any) -> ImportReport:
        """Import JSONL/CSV text: ``format``, ``filename``, ``strict``, ``actor``, ``progress``."""
        return transfer.import_text(self, name, text, **options)

    def import_file(self, name: str, path: str | Path, **options: Any) -> ImportReport:
        """Import a ``.jsonl`` or ``.csv`` file (same options as :meth:`import_text`)."""
        return transfer.import_file(self, name, path, **options)

    def export(self, name: str, *, format: str = "jsonl") -> str:
        """Every example as JSONL or CSV text."""
        return transfer.export_text(self, name, format=format)

    def search(self, name: str, text: str, **options: Any) -> _List[tuple[Example, float]]:
        """Examples most similar to ``text`` with scores (``k``, ``category``, ``min_quality``,
        ``metadata``)."""
        return transfer.search(self, name, text, **options)

    # --- usage ------------------------------------------------------------------------------

    def record_usage(self, ids: Sequence[int]) -> None:
        """Count one use of each example id (written in batches)."""
        if ids:
            self.usage.record(ids)

    def flush_usage(self) -> int:
        """Write pending usage counts now; returns how many examples were updated."""
        return self.usage.flush()

    def _write_usage(self, counts: Mapping[int, int]) -> None:
        # Atomic increments: no ordering with other writes needed, so no serial lock.
        self.db.write_work(lambda work: work.collections.add_usage(counts), serial=False)
        self.cache.add_usage(counts)

    def close(self) -> None:
        """Flush usage counts (called by ``Vault.close``); a database that cannot take them
        any more must not stop the close, so the counts are then given up."""
        try:
            self.flush_usage()
        except Exception:
            self.usage.failures += 1
