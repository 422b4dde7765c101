"""Few-shot selection strategies: pure functions over numpy arrays.

Every strategy returns a 1-D ``int64`` array of row indices, best first, at most ``k`` long
(fewer when fewer rows qualify; empty for ``k == 0`` or an empty collection). ``k < 0`` raises
:class:`~promptvault.errors.InvalidInputError`. Each accepts an optional boolean ``mask``
(from :func:`filter_mask`) that removes rows from consideration.

* :func:`top_k` — cosine similarity to a query: one matrix-vector product, ``argpartition``
  for the k best and a sort of those k only; no Python loop over examples. Rows of ``matrix``
  and ``query`` are expected to be L2-normalised float32, so the dot product is the cosine.
  Ties are broken by row index (lower first) among the rows that made the cut.
* :func:`mmr` — maximal marginal relevance: greedily trades relevance to the query against
  similarity to what is already picked (``lambda_=1`` is pure relevance, ``0`` pure diversity).
* :func:`diverse` — best-quality example of each category, round robin over categories.
* :func:`by_quality` — highest quality first.
* :func:`random_pick` — a seeded uniform sample without replacement.

Token budgets (:func:`fit_token_budget`, :func:`fit_examples`) keep the prefix of a selection
whose formatted text fits in N tokens, counted by a pluggable
:class:`~promptvault.fewshot.tokens.TokenCounter`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from promptvault.builder.examples import DEFAULT_EXAMPLE_SEPARATOR, format_example
from promptvault.entities import Example
from promptvault.errors import InvalidInputError
from promptvault.fewshot.tokens import TokenCounter, default_counter

__all__ = [
    "by_quality",
    "diverse",
    "filter_mask",
    "fit_examples",
    "fit_token_budget",
    "metadata_predicate",
    "mmr",
    "random_pick",
    "top_k",
]

Indices = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

_EMPTY = np.empty(0, dtype=np.int64)
_EMPTY.flags.writeable = False


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InvalidInputError(
            f"k must be an integer, not {type(k).__name__}", details={"field": "k"}
        )
    if k < 0:
        raise InvalidInputError(f"k must be 0 or more, not {k}", details={"field": "k", "value": k})
    return int(k)


def _check_mask(mask: npt.ArrayLike | None, n: int) -> BoolArray | None:
    if mask is None:
        return None
    arr = np.asarray(mask, dtype=np.bool_)
    if arr.shape != (n,):
        raise InvalidInputError(
            f"mask must have shape ({n},), not {arr.shape}",
            details={"field": "mask", "expected": n, "got": list(arr.shape)},
        )
    return arr


def _best(scores: npt.NDArray[Any], k: int) -> Indices:
    """Indices of the ``k`` highest finite scores, best first, ties by lower index."""
    n = scores.shape[0]
    if k >= n:
        candidates = np.arange(n, dtype=np.int64)
    else:
        # argpartition moves the k largest (in any order) to the end in O(n); only those k
        # are then sorted. Partitioning at n-k avoids negating the whole score vector.
        candidates = np.argpartition(scores, n - k)[n - k :].astype(np.int64, copy=False)
    picked = scores[candidates]
    order = np.lexsort((candidates, -picked))
    result = candidates[order]
    if not np.isfinite(picked).all():  # masked-out rows carry -inf: never return them
        result = result[np.isfinite(scores[result])]
    return result


def top_k(
    matrix: npt.ArrayLike,
    query: npt.ArrayLike,
    k: int,
    *,
    mask: npt.ArrayLike | None = None,
) -> Indices:
    """Row indices of the ``k`` rows most cosine-similar to ``query``, best first.

    ``matrix`` is ``(n, dim)`` and ``query`` ``(dim,)``, both L2-normalised float32 (other
    float dtypes are converted, which copies). ``k >= n`` returns every row in order.
    """
    k = _check_k(k)
    m = np.asarray(matrix, dtype=np.float32)
    q = np.asarray(query, dtype=np.float32)
    if m.ndim != 2:
        raise InvalidInputError(
            f"matrix must be 2-D (n, dim), not {m.ndim}-D", details={"field": "matrix"}
        )
    if q.ndim != 1 or q.shape[0] != m.shape[1]:
        raise InvalidInputError(
            f"query must have shape ({m.shape[1]},), not {q.shape}",
            details={"field": "query", "expected": m.shape[1], "got": list(q.shape)},
        )
    n = m.shape[0]
    if k == 0 or n == 0:
        return _EMPTY.copy()
    scores = m @ q
    keep = _check_mask(mask, n)
    if keep is not None:
        scores = np.where(keep, scores, np.float32(-np.inf))
    return _best(scores, k)


def mmr(
    matrix: npt.ArrayLike,
    query: npt.ArrayLike,
    k: int,
    *,
    lambda_: float = 0.5,
    candidates: int | None = None,
    mask: npt.ArrayLike | None = None,
) -> Indices:
    """Maximal marginal relevance: ``argmax lambda_*sim(q, d) - (1-lambda_)*max sim(d, picked)``.

    The greedy search runs over the ``candidates`` rows most relevant to the query (default
    ``max(20, 4*k)``; pass ``n`` for an exhaustive search). Each step costs one product of the
    candidate block with the newest pick, so the whole search is ``O(candidates * k * dim)``.
    """
    k = _check_k(k)
    if not 0.0 <= float(lambda_) <= 1.0:
        raise InvalidInputError(
            f"lambda_ must be between 0 and 1, not {lambda_}",
            details={"field": "lambda", "value": lambda_},
        )
    m = np.asarray(matrix, dtype=np.float32)
    pool_size = max(20, 4 * k) if candidates is None else _check_k(candidates)
    pool = top_k(m, query, max(pool_size, k), mask=mask)
    if k == 0 or pool.size == 0:
        return _EMPTY.copy()
    q = np.asarray(query, dtype=np.float32)
    block = m[pool]
    relevance = block @ q
    lam = np.float32(lambda_)
    # Highest similarity of each candidate to anything picked so far; -inf before any pick
    # makes the first choice pure relevance, as the definition says.
    redundancy = np.full(pool.size, -np.inf, dtype=np.float32)
    available = np.ones(pool.size, dtype=np.bool_)
    picked: list[int] = []
    for _ in range(min(k, pool.size)):
        penalty = np.where(np.isfinite(redundancy), redundancy, np.float32(0.0))
        score = lam * relevance - (np.float32(1.0) - lam) * penalty
        score = np.where(available, score, np.float32(-np.inf))
        best = int(np.argmax(score))  # first maximum: ties go to the more relevant row
        picked.append(best)
        available[best] = False
        redundancy = np.maximum(redundancy, block @ block[best])
    return pool[np.asarray(picked, dtype=np.int64)]


def by_quality(quality: npt.ArrayLike, k: int, *, mask: npt.ArrayLike | None = None) -> Indices:
    """Row indices of the ``k`` highest-quality rows, best first (ties: lower index first)."""
    k = _check_k(k)
    scores = np.asarray(quality, dtype=np.float64)
    if scores.ndim != 1:
        raise InvalidInputError("quality must be 1-D", details={"field": "quality"})
    if k == 0 or scores.size == 0:
        return _EMPTY.copy()
    keep = _check_mask(mask, scores.size)
    if keep is not None:
        scores = np.where(keep, scores, -np.inf)
    return _best(scores, k)


def _category_codes(categories: npt.ArrayLike | Sequence[Hashable | None]) -> npt.NDArray[Any]:
    arr = np.asarray(categories)
    if arr.ndim == 1 and np.issubdtype(arr.dtype, np.integer):
        return arr
    # Labels (strings, None...) are factorised once per call; services that select often
    # should keep integer codes next to the matrix and pass those instead.
    labels: list[Any] = arr.tolist() if arr.ndim == 1 else list(categories)  # type: ignore[arg-type]
    codes: dict[Any, int] = {}
    return np.fromiter(
        (codes.setdefault(c, len(codes)) for c in labels), dtype=np.int64, count=len(labels)
    )


def diverse(
    categories: npt.ArrayLike | Sequence[Hashable | None],
    quality: npt.ArrayLike,
    k: int,
    *,
    mask: npt.ArrayLike | None = None,
) -> Indices:
    """Best example of each category, round robin, until ``k`` are picked.

    Round 1 takes the best of every category, ordered by that best quality (ties: the
    category whose best row comes first); round 2 the second best of each, and so on.
    ``categories`` holds integer codes or hashable labels (``None`` is a category of its own).
    """
    k = _check_k(k)
    q = np.asarray(quality, dtype=np.float64)
    codes = _category_codes(categories)
    if q.ndim != 1 or codes.shape != q.shape:
        raise InvalidInputError(
            "categories and quality must be 1-D arrays of the same length",
            details={"field": "categories", "expected": list(q.shape), "got": list(codes.shape)},
        )
    rows = np.arange(q.size, dtype=np.int64)
    keep = _check_mask(mask, q.size)
    if keep is not None:
        rows, codes, q = rows[keep], codes[keep], q[keep]
    if k == 0 or rows.size == 0:
        return _EMPTY.copy()
    # Sort by category, then quality descending, then row: each category becomes a run whose
    # first element is its best row.
    order = np.lexsort((rows, -q, codes))
    s_codes, s_q, s_rows = codes[order], q[order], rows[order]
    starts = np.flatnonzero(np.r_[True, s_codes[1:] != s_codes[:-1]])
    run = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, s_codes.size]))
    rank = np.arange(s_codes.size) - starts[run]  # 0 = best of its category
    # Category order: best quality first, then the lower best row.
    cat_order = np.lexsort((s_rows[starts], -s_q[starts]))
    cat_pos = np.empty(starts.size, dtype=np.int64)
    cat_pos[cat_order] = np.arange(starts.size)
    final = np.lexsort((cat_pos[run], rank))
    return s_rows[final[:k]].astype(np.int64, copy=False)


def random_pick(
    n: int, k: int, *, seed: int | None = None, mask: npt.ArrayLike | None = None
) -> Indices:
    """``min(k, eligible)`` distinct row indices drawn uniformly; the same seed, the same pick."""
    k = _check_k(k)
    if n < 0:
        raise InvalidInputError(f"n must be 0 or more, not {n}", details={"field": "n"})
    pool = np.arange(n, dtype=np.int64)
    keep = _check_mask(mask, n)
    if keep is not None:
        pool = pool[keep]
    if k == 0 or pool.size == 0:
        return _EMPTY.copy()
    rng = np.random.default_rng(seed)
    return rng.choice(pool, size=min(k, pool.size), replace=False).astype(np.int64)


MetadataFilter = Mapping[str, Any] | Callable[[Mapping[str, Any]], bool]


def filter_mask(
    n: int,
    *,
    categories: npt.ArrayLike | Sequence[Hashable | None] | None = None,
    category: Hashable | Collection[Hashable] | None = None,
    quality: npt.ArrayLike | None = None,
    min_quality: float | None = None,
    metadata: Sequence[Mapping[str, Any]] | None = None,
    where: MetadataFilter | None = None,
) -> BoolArray:
    """A boolean mask of the ``n`` rows that pass every given filter.

    * ``category`` — one label, or a collection of labels (a string counts as one label),
      compared with ``categories``.
    * ``min_quality`` — keep rows whose ``quality`` is at least this.
    * ``where`` — over ``metadata``: a mapping ``{key: value}`` keeps rows whose metadata has
      each key equal to the value (a list/set/tuple value means "any of"), or a predicate
      called with each row's metadata.
    """
    mask = np.ones(n, dtype=np.bool_)
    if category is not None:
        if categories is None:
            raise InvalidInputError(
                "filtering by category needs the categories", details={"field": "category"}
            )
        wanted = (
            [category]
            if isinstance(category, (str, bytes)) or not isinstance(category, Collection)
            else list(category)
        )
        labels = np.asarray(categories, dtype=object)
        if labels.shape != (n,):
            raise InvalidInputError(
                f"categories must have {n} entries", details={"field": "categories"}
            )
        wanted_arr = np.empty(len(wanted), dtype=object)
        wanted_arr[:] = wanted
        mask &= np.isin(labels, wanted_arr)
    if min_quality is not None:
        if quality is None:
            raise InvalidInputError(
                "filtering by quality needs the quality scores", details={"field": "min_quality"}
            )
        q = np.asarray(quality, dtype=np.float64)
        if q.shape != (n,):
            raise InvalidInputError(f"quality must have {n} entries", details={"field": "quality"})
        mask &= q >= float(min_quality)
    if where is not None:
        if metadata is None or len(metadata) != n:
            raise InvalidInputError(
                f"filtering by metadata needs {n} metadata entries", details={"field": "where"}
            )
        predicate = where if callable(where) else metadata_predicate(where)
        candidates = np.flatnonzero(mask)  # only rows still in the running are inspected
        for row in candidates.tolist():
            if not predicate(metadata[row]):
                mask[row] = False
    return mask


def metadata_predicate(expected: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """A test of one row's metadata: each key of ``expected`` present with an allowed value
    (a list/tuple/set value means "any of these")."""
    # (key, allowed values): a list/tuple/set value means "any of these".
    checks: list[tuple[str, list[Any]]] = [
        (key, list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value])
        for key, value in expected.items()
    ]
    missing = object()

    def predicate(meta: Mapping[str, Any]) -> bool:
        for key, allowed in checks:
            got = meta.get(key, missing) if isinstance(meta, Mapping) else missing
            if got is missing or got not in allowed:
                return False
        return True

    return predicate


def fit_token_budget(
    pieces: Sequence[str],
    max_tokens: int,
    *,
    counter: TokenCounter | None = None,
    separator: str = DEFAULT_EXAMPLE_SEPARATOR,
) -> int:
    """How many leading ``pieces`` fit, joined by ``separator``, in ``max_tokens`` tokens.

    Adding stops at the first piece that would go over: a later, shorter piece is not
    squeezed in, so the order a strategy chose is kept. The total is the sum of each piece's
    count plus the separators' count, which for BPE tokenizers matches the count of the
    joined text to within a token per separator.
    """
    if max_tokens < 0:
        raise InvalidInputError(
            f"max_tokens must be 0 or more, not {max_tokens}", details={"field": "max_tokens"}
        )
    count = (counter or default_counter()).count
    sep_cost = count(separator) if separator else 0
    total = 0
    for i, piece in enumerate(pieces):
        cost = count(piece) + (sep_cost if i else 0)
        if total + cost > max_tokens:
            return i
        total += cost
    return len(pieces)


def fit_examples(
    examples: Sequence[Example],
    max_tokens: int,
    *,
    counter: TokenCounter | None = None,
    template: str | None = None,
    as_messages: bool = False,
) -> list[Example]:
    """The leading ``examples`` whose formatted text fits in ``max_tokens`` tokens.

    As text, each example is formatted as the builder will format it (default layout or the
    collection's ``template``). With ``as_messages`` each example costs its input plus its
    output, the two messages it becomes.
    """
    if as_messages:
        pieces = [f"{e.input}\n{e.output}" for e in examples]
        n = fit_token_budget(pieces, max_tokens, counter=counter, separator="")
    else:
        pieces = [format_example(e, i, template=template) for i, e in enumerate(examples, 1)]
        n = fit_token_budget(pieces, max_tokens, counter=counter)
    return list(examples[:n])
