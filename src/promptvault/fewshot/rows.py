"""Per-row storage of a collection in memory, shared by its successive snapshots.

A :class:`RowStore` holds, for every example in collection order, its vector (one row of a
contiguous float32 matrix), id, quality and category code, plus the examples themselves and
an id -> row map. Arrays are allocated with spare rows and grow by doubling, so appending one
example writes ``O(dim)`` numbers: nothing per existing row is rebuilt or copied, except on
the rare growth step (amortised ``O(1)`` per example).

Snapshots (:class:`~promptvault.fewshot.index.CollectionIndex`) read rows ``< n`` only, and
a store is only ever appended to past its ``length`` by the newest snapshot, so an older
snapshot in use by another thread keeps seeing exactly its own rows. Anything else (an
edit, a delete, an append to a snapshot that is not the newest) works on a copy.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from promptvault.entities import Example

if TYPE_CHECKING:
    from promptvault.fewshot.approximate import ApproximateIndex

__all__ = ["MIN_CAPACITY", "Matrix", "RowStore"]

Matrix = npt.NDArray[np.float32]
MIN_CAPACITY = 64


class RowStore:
    """Growable columns for one collection: ``matrix``, ``ids``, ``quality``, ``codes``."""

    __slots__ = (
        "ann",
        "code_of",
        "codes",
        "dim",
        "examples",
        "ids",
        "length",
        "matrix",
        "quality",
        "row_of",
    )

    def __init__(self, dim: int, capacity: int) -> None:
        capacity = max(MIN_CAPACITY, capacity)
        self.dim = dim
        # np.zeros maps fresh pages lazily: spare rows cost address space, not memory,
        # until they are written.
        self.matrix: Matrix = np.zeros((capacity, dim), dtype=np.float32)
        self.ids = np.zeros(capacity, dtype=np.int64)
        self.quality = np.zeros(capacity, dtype=np.float64)
        self.codes = np.zeros(capacity, dtype=np.int64)  # category -> small integer
        self.code_of: dict[Hashable, int] = {}
        self.examples: list[Example] = []
        self.row_of: dict[int, int] = {}
        self.length = 0
        # The collection's HNSW graph when it has one; shared with the stores that follow
        # this one (growth, edits, deletes), which tell it about their rows.
        self.ann: ApproximateIndex | None = None

    @property
    def capacity(self) -> int:
        """Rows allocated (written or spare)."""
        return int(self.matrix.shape[0])

    @classmethod
    def of(
        cls, dim: int, examples: Sequence[Example], vectors: Matrix, *, spare: int = 0
    ) -> RowStore:
        """A store holding ``examples`` (rows of ``vectors``), with room for ``spare`` more."""
        store = cls(dim, len(examples) + spare)
        store.push(examples, vectors)
        return store

    def push(self, examples: Sequence[Example], vectors: Matrix) -> None:
        """Write ``examples`` after the last row (the caller made sure there is room)."""
        start = self.length
        end = start + len(examples)
        if end > self.capacity:
            raise ValueError(f"row store full: {end} rows > capacity {self.capacity}")
        if not examples:
            return
        self.matrix[start:end] = vectors
        self.ids[start:end] = [e.id for e in examples]
        self.quality[start:end] = [e.quality for e in examples]
        code_of = self.code_of
        self.codes[start:end] = [code_of.setdefault(e.category, len(code_of)) for e in examples]
        self.examples.extend(examples)
        row_of = self.row_of
        for row, example in enumerate(examples, start):
            row_of[example.id] = row
        self.length = end  # last: rows up to here are complete
        if self.ann is not None:
            self.ann.follow(self)  # added to the graph in the background

    def copy(self, n: int, capacity: int) -> RowStore:
        """A new store with this store's first ``n`` rows and room for ``capacity`` rows."""
        other = RowStore(self.dim, max(capacity, n))
        other.matrix[:n] = self.matrix[:n]
        other.ids[:n] = self.ids[:n]
        other.quality[:n] = self.quality[:n]
        other.codes[:n] = self.codes[:n]
        other.code_of = dict(self.code_of)
        other.examples = self.examples[:n]
        if n == self.length:
            other.row_of = dict(self.row_of)
        else:
            other.row_of = {e.id: row for row, e in enumerate(other.examples)}
        other.length = n
        if n == self.length:  # the newest rows: the graph goes on with the copy
            other.ann = self.ann
        return other

    def set_row(self, row: int, example: Example, vector: Any | None) -> None:
        """Overwrite one row (only on a store no snapshot has been given yet)."""
        if vector is not None:
            self.matrix[row] = vector
        self.quality[row] = example.quality
        self.codes[row] = self.code_of.setdefault(example.category, len(self.code_of))
        self.examples[row] = example
