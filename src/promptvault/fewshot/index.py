"""A collection held in memory: one contiguous float32 matrix plus the examples, per process.

A :class:`CollectionIndex` is an immutable snapshot at one collection revision. Changes make
a new snapshot, so a selection running in another thread keeps a consistent view:

* an **append** (the common write) shares the matrix buffer: the buffer has spare rows, the
  new vectors go into rows the old snapshot never reads, and the new snapshot is a longer
  view of the same memory — appending one example costs ``O(dim)``, not a copy of the matrix;
* an **edit** or **delete** copies the matrix (rare writes; the copy keeps old snapshots
  intact).

Selection runs the pure functions of :mod:`promptvault.fewshot.selection` on the snapshot's
arrays: no Python loop over examples on the semantic path.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from promptvault.entities import Example
from promptvault.fewshot.selection import (
    by_quality,
    diverse,
    filter_mask,
    mmr,
    random_pick,
    top_k,
)

__all__ = ["CollectionIndex", "vector_bytes", "vectors_from_bytes"]

Matrix = npt.NDArray[np.float32]
_MIN_CAPACITY = 64


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

    __slots__ = (
        "_buffer",
        "_codes",
        "categories",
        "dim",
        "examples",
        "ids",
        "matrix",
        "metadata",
        "n",
        "quality",
        "revision",
        "row_of",
    )

    def __init__(
        self,
        revision: int,
        dim: int,
        examples: list[Example],
        buffer: Matrix,
        n: int,
    ) -> None:
        self.revision = revision
        self.dim = dim
        self.n = n
        self.examples = examples  # may be longer than n when shared with a newer snapshot
        self._buffer = buffer
        self.matrix: Matrix = buffer[:n]  # a row slice of a C-contiguous array is contiguous
        live = examples[:n]
        self.ids = np.fromiter((e.id for e in live), dtype=np.int64, count=n)
        self.quality = np.fromiter((e.quality for e in live), dtype=np.float64, count=n)
        self.categories: list[str | None] = [e.category for e in live]
        self.metadata: list[dict[str, Any]] = [e.metadata for e in live]
        self.row_of: dict[int, int] = {e.id: i for i, e in enumerate(live)}
        self._codes: npt.NDArray[np.int64] | None = None

    @classmethod
    def build(cls, revision: int, dim: int, examples: list[Example], vectors: Matrix) -> Self:
        """A snapshot of ``examples`` whose vectors are the rows of ``vectors``."""
        n = len(examples)
        buffer = np.zeros((max(_MIN_CAPACITY, n + n // 2), dim), dtype=np.float32)
        if n:
            buffer[:n] = vectors
        return cls(revision, dim, list(examples), buffer, n)

    # --- changes (each returns a new snapshot) ------------------------------------------

    def appended(self, revision: int, examples: Sequence[Example], vectors: Matrix) -> Self:
        """This snapshot plus ``examples`` at the end, sharing the buffer when it has room."""
        add = len(examples)
        n = self.n + add
        if len(self.examples) != self.n or n > self._buffer.shape[0]:
            # No room (or the example list is already shared further): grow by half.
            buffer = np.zeros((max(_MIN_CAPACITY, n + n // 2), self.dim), dtype=np.float32)
            buffer[: self.n] = self.matrix
            listed = self.examples[: self.n]
        else:
            buffer, listed = self._buffer, self.examples
        if add:
            buffer[self.n : n] = vectors
        listed.extend(examples)
        return type(self)(revision, self.dim, listed, buffer, n)

    def replaced(self, revision: int, example: Example, vector: Matrix | None) -> Self:
        """This snapshot with one example (and, when given, its vector) replaced."""
        row = self.row_of[example.id]
        buffer = self._buffer.copy()
        if vector is not None:
            buffer[row] = vector
        listed = self.examples[: self.n]
        listed[row] = example
        return type(self)(revision, self.dim, listed, buffer, self.n)

    def without(self, revision: int, ids: Sequence[int]) -> Self:
        """This snapshot without the examples ``ids`` (order of the others kept)."""
        gone = {self.row_of[i] for i in ids if i in self.row_of}
        keep = [r for r in range(self.n) if r not in gone]
        vectors = self.matrix[keep]
        return type(self).build(revision, self.dim, [self.examples[r] for r in keep], vectors)

    def with_usage(self, counts: Mapping[int, int]) -> None:
        """Add flushed usage counts to the cached examples (display only; no new revision)."""
        for example_id, count in counts.items():
            row = self.row_of.get(example_id)
            if row is not None:
                old = self.examples[row]
                self.examples[row] = old.model_copy(update={"usage_count": old.usage_count + count})

    # --- selection ----------------------------------------------------------------------

    def mask(
        self,
        *,
        category: Hashable | Sequence[Hashable] | None = None,
        min_quality: float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> npt.NDArray[np.bool_] | None:
        """The rows passing the filters (None when there are no filters)."""
        if category is None and min_quality is None and not metadata:
            return None
        return filter_mask(
            self.n,
            categories=self.categories,
            category=category,
            quality=self.quality,
            min_quality=min_quality,
            metadata=self.metadata,
            where=metadata or None,
        )

    def codes(self) -> npt.NDArray[np.int64]:
        """Integer category codes (computed once per snapshot), for :func:`diverse`."""
        if self._codes is None:
            seen: dict[str | None, int] = {}
            self._codes = np.fromiter(
                (seen.setdefault(c, len(seen)) for c in self.categories),
                dtype=np.int64,
                count=self.n,
            )
        return self._codes

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
        """Row indices chosen by ``strategy``, best first."""
        if strategy == "semantic":
            assert query is not None
            return top_k(self.matrix, query, k, mask=mask)
        if strategy == "mmr":
            assert query is not None
            return mmr(self.matrix, query, k, lambda_=lambda_, mask=mask)
        if strategy == "diverse":
            return diverse(self.codes(), self.quality, k, mask=mask)
        if strategy == "quality":
            return by_quality(self.quality, k, mask=mask)
        return random_pick(self.n, k, seed=seed, mask=mask)

    def pick(self, rows: npt.NDArray[np.int64]) -> list[Example]:
        """The examples at ``rows``, in that order."""
        examples = self.examples
        return [examples[r] for r in rows.tolist()]
