"""What a build needs from a collection, kept in memory: the index, embedder and query cache.

:class:`CollectionCache` holds one :class:`~promptvault.fewshot.index.CollectionIndex` per
collection, loaded on first use. Whether it is still current is checked with one indexed
read of the collection's ``revision`` at most once per ``ttl`` seconds (the label TTL), so
several processes sharing a PostgreSQL database converge within that time while a warm
selection touches no database at all. Writes made through this process update the cached
snapshot in place of a reload (see :meth:`CollectionCache.apply`).

Query embeddings are cached by ``(embedder spec, text)``: embedding is deterministic, so a
repeated query (the same rendered question) costs a dict lookup. ``bench/build.py`` reports
builds with and without that cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from promptvault.errors import CollectionNotFound, InvalidInputError, did_you_mean, suggest
from promptvault.fewshot.approximate import approximate_available
from promptvault.fewshot.embedders import Embedder, Vectors
from promptvault.fewshot.index import CollectionIndex, vectors_from_bytes
from promptvault.fewshot.models import Collection
from promptvault.storage.database import Database

__all__ = ["CollectionCache", "Loaded", "not_found"]

_QUERY_CACHE_MAX = 4096


@dataclass(frozen=True, slots=True)
class Loaded:
    """A collection as cached: its definition, the snapshot and the embedder to use."""

    collection: Collection
    index: CollectionIndex
    embedder: Embedder


class _Entry:
    __slots__ = ("expires", "loaded")

    def __init__(self, loaded: Loaded, expires: float) -> None:
        self.loaded = loaded
        self.expires = expires


def not_found(name: str, names: list[str] | None = None) -> CollectionNotFound:
    """The error for an unknown collection, with near names when known."""
    near = suggest(name, names) if names else []
    return CollectionNotFound(
        f"no example collection named {name!r}{did_you_mean(near)}",
        details={"field": "collection", "name": name, "suggestions": near},
    )


class CollectionCache:
    """Per-process cache of collection snapshots, embedders and query vectors."""

    def __init__(
        self,
        db: Database,
        embedder_for: Callable[[str], Embedder],
        *,
        ttl: float,
        clock: Callable[[], float] | None = None,
        approximate_from: int = 0,
    ) -> None:
        self.db = db
        self.ttl = ttl
        # Collections this large get an HNSW graph (0: never; needs usearch installed).
        self.approximate_from = approximate_from if approximate_available() else 0
        self.clock = clock or time.monotonic
        self._embedder_for = embedder_for
        self._entries: dict[str, _Entry] = {}
        self._queries: dict[tuple[str, str], Vectors] = {}
        self._lock = threading.Lock()
        self.loads = 0  # full loads from the database (for tests and monitoring)
        self.checks = 0  # revision checks
        self.query_misses = 0

    # --- lookup -------------------------------------------------------------------------

    def get(self, name: str) -> Loaded:
        """The current snapshot of ``name`` (revision checked at most once per TTL)."""
        entry = self._entries.get(name)
        now = self.clock()
        if entry is not None and entry.expires > now:
            return entry.loaded
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None and entry.expires > now:
                return entry.loaded
            if entry is not None:
                self.checks += 1
                with self.db.read_work() as work:
                    revision = work.collections.revision(name)
                if revision is None:
                    self._entries.pop(name, None)
                    raise not_found(name)
                if revision == entry.loaded.index.revision:
                    entry.expires = now + self.ttl
                    return entry.loaded
            loaded = self._load(name)
            self._entries[name] = _Entry(loaded, now + self.ttl)
            return loaded

    def _load(self, name: str) -> Loaded:
        self.loads += 1
        with self.db.read_work() as work:
            stored = work.collections.find(name)
            if stored is None:
                raise not_found(name, work.collections.near_names(name))
            fields = work.collections.fields(name=name)[0]
            records = work.collections.records(stored.id, name)
        collection = Collection(**fields)
        embedder = self.embedder(collection)
        vectors = vectors_from_bytes([r.embedding for r in records], collection.dim)
        index = CollectionIndex.build(
            collection.revision, collection.dim, [r.example for r in records], vectors
        )
        self._maybe_approximate(index)
        return Loaded(collection, index, embedder)

    def _maybe_approximate(self, index: CollectionIndex) -> None:
        if self.approximate_from and index.n >= self.approximate_from:
            index.start_approximate()

    def embedder(self, collection: Collection) -> Embedder:
        """The collection's embedder; its spec must match the one the vectors were made with."""
        return self.embedder_of(collection.name, collection.embedder, collection.embedder_spec)

    def embedder_of(self, name: str, embedder_name: str, stored_spec: str) -> Embedder:
        """The embedder ``embedder_name`` of collection ``name``, checked against the spec
        its vectors were made with (``stored_spec``)."""
        embedder = self._embedder_for(embedder_name)
        if embedder.spec != stored_spec:
            raise InvalidInputError(
                f"collection {name!r} was embedded with {stored_spec}, "
                f"but the configured {embedder_name!r} embedder is {embedder.spec}: "
                "re-embed it (promptvault examples reembed)",
                details={
                    "field": "embedder",
                    "collection": name,
                    "stored": stored_spec,
                    "configured": embedder.spec,
                },
            )
        return embedder

    # --- changes made by this process -----------------------------------------------------

    def apply(
        self,
        name: str,
        old_revision: int,
        change: Callable[[Loaded], Loaded] | None,
    ) -> None:
        """Bring the cached snapshot from ``old_revision`` to the next one with ``change``.

        When the cache holds another revision (another process wrote in between, or
        nothing is cached), the entry is dropped and the next use reloads.
        """
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return
            if change is None or entry.loaded.index.revision != old_revision:
                self._entries.pop(name, None)
                return
            entry.loaded = change(entry.loaded)
            self._maybe_approximate(entry.loaded.index)

    def drop(self, name: str | None = None) -> None:
        """Forget one collection's snapshot (or all)."""
        with self._lock:
            if name is None:
                self._entries.clear()
            else:
                self._entries.pop(name, None)

    def cached(self, name: str) -> Loaded | None:
        """The cached snapshot without any check (None when not loaded)."""
        entry = self._entries.get(name)
        return entry.loaded if entry is not None else None

    def add_usage(self, counts: Mapping[int, int]) -> None:
        """Reflect flushed usage counts in every cached snapshot."""
        with self._lock:
            for entry in self._entries.values():
                entry.loaded.index.with_usage(counts)

    # --- queries --------------------------------------------------------------------------

    def query_vector(self, loaded: Loaded, text: str) -> Any:
        """The embedding of one query text, cached by embedder spec and text."""
        key = (loaded.collection.embedder_spec, text)
        found = self._queries.get(key)
        if found is None:
            self.query_misses += 1
            found = loaded.embedder.embed([text])[0]
            found.flags.writeable = False
            if len(self._queries) >= _QUERY_CACHE_MAX:
                self._queries.clear()
            self._queries[key] = found
        return found

    def clear_queries(self) -> None:
        """Forget every cached query vector (benchmarks measure the uncached path with it)."""
        self._queries.clear()
