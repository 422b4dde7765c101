"""The filters of one selection (category, minimum quality, metadata) over a snapshot's rows.

Same rules as :func:`~promptvault.fewshot.selection.filter_mask`: ``category`` is one label
or a collection of labels (a string counts as one label; ``None`` is a category of its own),
``min_quality`` keeps rows whose quality is at least that, ``metadata`` keeps rows whose
metadata has each key equal to the value (a list/set/tuple value means "any of").

A :class:`RowFilter` answers for every row (:meth:`RowFilter.mask`, what exact search needs)
or for a few candidate rows only (:meth:`RowFilter.passes`, what approximate search needs,
so a filtered approximate search costs nothing per row of the collection).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from promptvault.entities import Example
from promptvault.fewshot.selection import metadata_predicate

__all__ = ["RowFilter"]

Rows = npt.NDArray[np.int64]


def _labels(category: Hashable | Collection[Hashable]) -> list[Any]:
    if isinstance(category, (str, bytes)) or not isinstance(category, Collection):
        return [category]
    return list(category)


class RowFilter:
    """Filters bound to one snapshot's arrays (``codes``, ``quality``, ``examples``)."""

    __slots__ = (
        "_codes",
        "_examples",
        "_mask",
        "_min_quality",
        "_predicate",
        "_quality",
        "_wanted",
    )

    def __init__(
        self,
        *,
        codes: npt.NDArray[np.int64],
        code_of: Mapping[Hashable, int],
        quality: npt.NDArray[np.float64],
        examples: Sequence[Example],
        category: Hashable | Collection[Hashable] | None,
        min_quality: float | None,
        metadata: Mapping[str, Any] | None,
    ) -> None:
        self._codes = codes
        self._quality = quality
        self._examples = examples
        self._wanted: npt.NDArray[np.int64] | None = None
        if category is not None:
            wanted = []
            for label in _labels(category):
                try:
                    code = code_of.get(label)
                except TypeError:  # unhashable: equal to no category
                    code = None
                if code is not None:
                    wanted.append(code)
            self._wanted = np.asarray(wanted, dtype=np.int64)
        self._min_quality = None if min_quality is None else float(min_quality)
        self._predicate = metadata_predicate(metadata) if metadata else None
        self._mask: npt.NDArray[np.bool_] | None = None

    def mask(self) -> npt.NDArray[np.bool_]:
        """Whether each row of the snapshot passes (computed once)."""
        if self._mask is None:
            keep = np.ones(self._codes.shape[0], dtype=np.bool_)
            if self._wanted is not None:
                keep &= np.isin(self._codes, self._wanted)
            if self._min_quality is not None:
                keep &= self._quality >= self._min_quality
            self._mask = self._metadata(np.arange(keep.shape[0], dtype=np.int64), keep)
        return self._mask

    def passes(self, rows: Rows) -> npt.NDArray[np.bool_]:
        """Whether each of ``rows`` passes (only those rows are looked at)."""
        if self._mask is not None:
            return self._mask[rows]
        keep = np.ones(rows.shape[0], dtype=np.bool_)
        if self._wanted is not None:
            keep &= np.isin(self._codes[rows], self._wanted)
        if self._min_quality is not None:
            keep &= self._quality[rows] >= self._min_quality
        return self._metadata(rows, keep)

    def _metadata(self, rows: Rows, keep: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        predicate = self._predicate
        if predicate is not None:
            examples = self._examples
            for j in np.flatnonzero(keep).tolist():  # only rows still in the running
                if not predicate(examples[int(rows[j])].metadata):
                    keep[j] = False
        return keep
