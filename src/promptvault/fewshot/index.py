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
from promptvault.fewshot.blas import one_blas_thread
from promptvault.fewshot.rows import Matrix, RowStore
from promptvault.fewshot.selection import (
    by_quality,
    diverse,
    metadata_predicate,
    mmr,
    random_pick,
    top_k,
)

__all__ = ["CollectionIndex", "vector_bytes", "vectors_from_bytes"]


def vector_bytes(vector: npt.NDArray[Any]) -> bytes:
    """A vector as little-endian float32 bytes (the stored form)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def vectors_from_bytes(blobs: Sequence[bytes], dim: int) -> Matrix:
    """Stacked float32 rows from stored bytes (one contiguous ``(n, dim)`` array)."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    flat = np.frombuffer(b"".join(blobs), dtype="<f4")
    return np.ascontiguousarray(flat.reshape(len(blobs), dim), dtype=np.float32)


def _labels(category: Hashable | Collection[Hashable]) -> list[Any]:
    if isinstance(category, (str, bytes)) or not isinstance(category, Collection):
        return [category]
    return list(category)


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
        return type(self)(revision, store, len(kept))

    def with_usage(self, counts: Mapping[int, int]) -> None:
        """Add flushed usage counts to the cached examples (display only; no new revision)."""
        for example_id, count in counts.items():
            row = self.row_of(example_id)
            if row is not None:
                old = self.examples[row]
                self.examples[row] = old.model_copy(update={"usage_count": old.usage_count + count})

    # --- selection ----------------------------------------------------------------------

    def mask(
        self,
        *,
        category: Hashable | Collection[Hashable] | None = None,
        min_quality: float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> npt.NDArray[np.bool_] | None:
        """The rows passing the filters (None when there are no filters).

        Same rules as :func:`~promptvault.fewshot.selection.filter_mask`; categories are
        compared through their integer codes.
        """
        if category is None and min_quality is None and not metadata:
            return None
        keep = np.ones(self.n, dtype=np.bool_)
        if category is not None:
            code_of = self._rows.code_of
            wanted = []
            for label in _labels(category):
                try:
                    code = code_of.get(label)
                except TypeError:  # unhashable: equal to no category
                    code = None
                if code is not None:
                    wanted.append(code)
            keep &= np.isin(self.codes, np.asarray(wanted, dtype=np.int64))
        if min_quality is not None:
            keep &= self.quality >= float(min_quality)
        if metadata:
            predicate = metadata_predicate(metadata)
            examples = self.examples
            for row in np.flatnonzero(keep).tolist():  # only rows still in the running
                if not predicate(examples[row].metadata):
                    keep[row] = False
        return keep

    def select(
        self,
        strategy: str,
        k: int,
        *,
        query: Matrix | None = None,
        mask: npt.NDArray[np.bool_] | None = None,
        lambda_: float = 0.5,
        seed: int | None = None,
    ) -> npt.NDArray[np.int64]:
        """Row indices chosen by ``strategy``, best first (similarity searches run on one
        BLAS thread, see :mod:`promptvault.fewshot.blas`)."""
        if strategy == "semantic":
            assert query is not None
            with one_blas_thread():
                return top_k(self.matrix, query, k, mask=mask)
        if strategy == "mmr":
            assert query is not None
            with one_blas_thread():
                return mmr(self.matrix, query, k, lambda_=lambda_, mask=mask)
        if strategy == "diverse":
            return diverse(self.codes, self.quality, k, mask=mask)
        if strategy == "quality":
            return by_quality(self.quality, k, mask=mask)
        return random_pick(self.n, k, seed=seed, mask=mask)

    def pick(self, rows: npt.NDArray[np.int64]) -> list[Example]:
        """The examples at ``rows``, in that order."""
        examples = self.examples
        return [examples[r] for r in rows.tolist()]
