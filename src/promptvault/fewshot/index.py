"""A collection held in memory: one contiguous float32 matrix plus the examples, per process.

A :class:`CollectionIndex` is an immutable snapshot at one collection revision: the first
``n`` rows of a :class:`~promptvault.fewshot.rows.RowStore`. Changes make a new snapshot, so
a selection running in another thread keeps a consistent view:

* an **append** (the common write) shares the store: the new rows go past the old
  snapshot's ``n``, where it never reads, and the new snapshot is a longer view of the same
  memory. Nothing per existing row is rebuilt, so appending one example costs ``O(dim)``
  (amortised: the store doubles when full);
* an **edit** or **delete** copies the store (rare writes; the copy keeps old snapshots
  intact).

The rows are always those of a snapshot rebuilt from the database (id order), so a
selection gives the same answer either way.

Selection runs the pure functions of :mod:`promptvault.fewshot.selection` on the snapshot's
arrays: no Python loop over examples on the semantic path.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from promptvault.entities import Example
from promptvault.fewshot.approximate import TAIL_MAX, ApproximateIndex
from promptvault.fewshot.blas import one_blas_thread
from promptvault.fewshot.filters import RowFilter
from promptvault.fewshot.rows import Matrix, RowStore
from promptvault.fewshot.selection import (
    by_quality,
    diverse,
    mmr,
    random_pick,
    top_k,
)

__all__ = ["CollectionIndex", "RowFilter", "vector_bytes", "vectors_from_bytes"]

Rows = npt.NDArray[np.int64]
_FETCH_LIMIT = 4096  # most graph candidates one approximate search asks for


def vector_bytes(vector: npt.NDArray[Any]) -> bytes:
    """A vector as little-endian float32 bytes (the stored form)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def vectors_from_bytes(blobs: Sequence[bytes], dim: int) -> Matrix:
    """Stacked float32 rows from stored bytes (one contiguous ``(n, dim)`` array)."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    flat = np.frombuffer(b"".join(blobs), dtype="<f4")
    return np.ascontiguousarray(flat.reshape(len(blobs), dim), dtype=np.float32)


class CollectionIndex:
    """One revision of a collection: examples, their vectors and the arrays selection uses."""

    __slots__ = ("_rows", "codes", "dim", "examples", "ids", "matrix", "n", "quality", "revision")

    def __init__(self, revision: int, rows: RowStore, n: int) -> None:
        self.revision = revision
        self.dim = rows.dim
        self.n = n
        self._rows = rows
        # Views of the first n rows (a row slice of a C-contiguous array is contiguous).
        self.matrix: Matrix = rows.matrix[:n]
        self.ids: npt.NDArray[np.int64] = rows.ids[:n]
        self.quality: npt.NDArray[np.float64] = rows.quality[:n]
        self.codes: npt.NDArray[np.int64] = rows.codes[:n]
        self.examples = rows.examples  # may be longer than n when shared with a newer snapshot

    @classmethod
    def build(cls, revision: int, dim: int, examples: Sequence[Example], vectors: Matrix) -> Self:
        """A snapshot of ``examples`` whose vectors are the rows of ``vectors``."""
        # A quarter spare: a freshly loaded collection takes a few appends without growing.
        store = RowStore.of(dim, examples, vectors, spare=len(examples) // 4)
        return cls(revision, store, len(examples))

    def row_of(self, example_id: int) -> int | None:
        """The row of one example in this snapshot (None when it is not in it)."""
        row = self._rows.row_of.get(example_id)
        return row if row is not None and row < self.n else None

    # --- changes (each returns a new snapshot) ------------------------------------------

    def appended(self, revision: int, examples: Sequence[Example], vectors: Matrix) -> Self:
        """This snapshot plus ``examples`` at the end, sharing the store when it has room."""
        rows = self._rows
        n = self.n + len(examples)
        if rows.length != self.n or n > rows.capacity:
            # Full (double it), or a newer snapshot already appended to this store (fork).
            rows = rows.copy(self.n, max(n, 2 * self.n))
        rows.push(examples, vectors)
        return type(self)(revision, rows, n)

    def replaced(self, revision: int, example: Example, vector: Matrix | None) -> Self:
        """This snapshot with one example (and, when given, its vector) replaced."""
        row = self.row_of(example.id)
        if row is None:
            raise KeyError(example.id)
        rows = self._rows.copy(self.n, self._rows.capacity)
        rows.set_row(row, example, vector)
        if rows.ann is not None:
            rows.ann.follow(rows)
            if vector is not None:
                rows.ann.replace(example.id, vector)
        return type(self)(revision, rows, self.n)

    def without(self, revision: int, ids: Sequence[int]) -> Self:
        """This snapshot without the examples ``ids`` (order of the others kept)."""
        keep = np.ones(self.n, dtype=np.bool_)
        for example_id in ids:
            row = self.row_of(example_id)
            if row is not None:
                keep[row] = False
        kept = np.flatnonzero(keep).tolist()
        examples = self.examples
        store = RowStore.of(
            self.dim, [examples[r] for r in kept], self.matrix[keep], spare=len(kept) // 4
        )
        ann = self._rows.ann
        if ann is not None:  # the graph follows the collection, minus the deleted examples
            store.ann = ann
            ann.follow(store)
            ann.remove(ids)
        return type(self)(revision, store, len(kept))

    @property
    def approximate(self) -> ApproximateIndex | None:
        """The collection's HNSW graph, when it has one (see ``fewshot.approximate``)."""
        return self._rows.ann

    def start_approximate(self, **options: Any) -> ApproximateIndex:
        """Give the collection an HNSW graph, filled in the background (requires usearch);
        ``options`` are :class:`~promptvault.fewshot.approximate.ApproximateIndex`'s."""
        rows = self._rows
        if rows.ann is None:
            rows.ann = ApproximateIndex(rows, **options)
            rows.ann.follow(rows)
        return rows.ann

    def with_usage(self, counts: Mapping[int, int]) -> None:
        """Add flushed usage counts to the cached examples (display only; no new revision)."""
        for example_id, count in counts.items():
            row = self.row_of(example_id)
            if row is not None:
                old = self.examples[row]
                self.examples[row] = old.model_copy(update={"usage_count": old.usage_count + count})

    # --- selection ----------------------------------------------------------------------

    def where(
        self,
        *,
        category: Hashable | Collection[Hashable] | None = None,
        min_quality: float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> RowFilter | None:
        """The filters of a selection over this snapshot (None when there are none)."""
        if category is None and min_quality is None and not metadata:
            return None
        return RowFilter(
            codes=self.codes,
            code_of=self._rows.code_of,
            quality=self.quality,
            examples=self.examples,
            category=category,
            min_quality=min_quality,
            metadata=metadata,
        )

    def mask(
        self,
        *,
        category: Hashable | Collection[Hashable] | None = None,
        min_quality: float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> npt.NDArray[np.bool_] | None:
        """The rows passing the filters (None when there are no filters); same rules as
        :func:`~promptvault.fewshot.selection.filter_mask`."""
        found = self.where(category=category, min_quality=min_quality, metadata=metadata)
        return None if found is None else found.mask()

    def select(
        self,
        strategy: str,
        k: int,
        *,
        query: Matrix | None = None,
        mask: npt.NDArray[np.bool_] | None = None,
        where: RowFilter | None = None,
        lambda_: float = 0.5,
        seed: int | None = None,
    ) -> Rows:
        """Row indices chosen by ``strategy``, best first.

        Filters come as a ``mask`` over every row or as ``where`` (from :meth:`where`),
        which lets an approximate search look at its candidates only. Similarity searches
        run on one BLAS thread (see :mod:`promptvault.fewshot.blas`).
        """
        if strategy in ("semantic", "mmr"):
            assert query is not None
            with one_blas_thread():
                if mask is None:
                    approximate = self._approximate_select(strategy, k, query, where, lambda_)
                    if approximate is not None:
                        return approximate
                    mask = None if where is None else where.mask()
                if strategy == "semantic":
                    return top_k(self.matrix, query, k, mask=mask)
                return mmr(self.matrix, query, k, lambda_=lambda_, mask=mask)
        if mask is None and where is not None:
            mask = where.mask()
        if strategy == "diverse":
            return diverse(self.codes, self.quality, k, mask=mask)
        if strategy == "quality":
            return by_quality(self.quality, k, mask=mask)
        return random_pick(self.n, k, seed=seed, mask=mask)

    # --- approximate search -------------------------------------------------------------

    def _approximate_select(
        self, strategy: str, k: int, query: Matrix, where: RowFilter | None, lambda_: float
    ) -> Rows | None:
        """The selection through the HNSW graph, or None to search exactly."""
        ann = self._rows.ann
        if ann is None or k <= 0:
            return None
        wanted = k if strategy == "semantic" else max(20, 4 * k)  # mmr's candidate pool
        rows = self._nearest(ann, query, wanted, where)
        if rows is None or strategy == "semantic":
            return rows
        picked = mmr(self.matrix[rows], query, k, lambda_=lambda_, candidates=rows.shape[0])
        return rows[picked]

    def _nearest(
        self, ann: ApproximateIndex, query: Matrix, k: int, where: RowFilter | None
    ) -> Rows | None:
        """The ``k`` best rows passing ``where`` among the graph's candidates, the rows not
        in the graph yet and the edited ones, re-scored exactly; None when the graph cannot
        answer (busy, too far behind, or too few candidates pass the filters)."""
        ids = self.ids
        tail = int(np.searchsorted(ids, ann.synced_id, side="right"))
        if self.n - tail > TAIL_MAX:
            return None  # the graph is still being built: exact search
        extra = [r for r in map(self.row_of, ann.pending) if r is not None]
        row_of, n = self._rows.row_of.get, self.n
        # The pool re-scored exactly; with filters, as many candidates that pass (recall
        # would otherwise drop with the share of rows the filters keep).
        pool = count = max(16 * k, 128)
        while True:
            found = ann.candidates(query, count)
            if found is None:
                return None
            rows = [r for r in map(row_of, found.tolist()) if r is not None and r < n]
            rows.extend(extra)
            rows.extend(range(tail, n))
            candidates = np.unique(np.asarray(rows, dtype=np.int64))
            if where is None:
                break
            fetched = candidates.shape[0]
            candidates = candidates[where.passes(candidates)]
            passed = candidates.shape[0]
            if passed >= pool or found.shape[0] < count:
                break  # enough, or the graph has nothing more to give
            if count >= _FETCH_LIMIT:
                if passed >= k:
                    break
                return None  # a selective filter: exact search over the rows that pass
            # Ask for enough to pass at the share seen so far, with a margin.
            share = max(passed, 1) / max(fetched, 1)
            count = min(max(int(pool / share * 1.25), count * 2), _FETCH_LIMIT)
        scores = self.matrix[candidates] @ query
        order = np.lexsort((candidates, -scores))[:k]  # ties: lower row first, as exact
        return candidates[order]

    def pick(self, rows: npt.NDArray[np.int64]) -> list[Example]:
        """The examples at ``rows``, in that order."""
        examples = self.examples
        return [examples[r] for r in rows.tolist()]
