"""Deterministic, client-side assignment of units to experiment variants.

Pure: no I/O, no numpy at import, so the SDK assigns in-process without a network call.

The hash (reproduce it in any language)
----------------------------------------
For an experiment with hash seed ``seed`` and a unit id ``unit_id`` (both strings)::

    y = CRC-32(UTF-8 bytes of unit_id)      # ISO-HDLC / IEEE 802.3 CRC-32, as zlib.crc32,
                                            # java.util.zip.CRC32, Go crc32.ChecksumIEEE;
                                            # CRC-32("123456789") == 0xCBF43926
    d = SHA-256(UTF-8 bytes of seed)        # once per experiment
    a = uint64 big-endian of d[0:8]
    b = uint64 big-endian of d[8:16]
    x = ((a * y + b) mod 2**64) >> 32       # 32 bits; unsigned 64-bit wrap-around arithmetic
    t = x * 10000                           # fits in 64 bits
    bucket   = t >> 32                      # 0 .. 9999: which variant (resolution 1/10,000)
    fraction = t mod 2**32                  # position inside the bucket: the coverage draw

The unit is inside the experiment when ``fraction < floor(coverage * 2**32)`` (always when the
coverage is 1). ``bucket`` and ``fraction`` are the integer and fractional parts of one uniform
number, so coverage takes the same share of every bucket: changing the coverage never moves a
unit between variants, and raising it only adds units.

``x`` is Dietzfelbinger's multiply-add-shift hash of the unit's CRC, a strongly universal
family keyed by the seed: for two different CRCs and a random seed the two values of ``x``
are independent and uniform, and two experiments (two seeds) draw independent keys, so a
unit's variant in one experiment says nothing about its variant in another. Why not FNV-1a:
a pure-Python FNV-1a loop costs tens of nanoseconds per byte and is no faster than MD5 on
typical ids, while CRC-32 runs in C (``zlib``) and the keyed step is four integer
operations. ``bench/experiments.py`` prints the three side by side. (Two ids with the same
CRC-32 share their buckets everywhere: about 116 pairs among a million units, harmless for
balance.)

Bucket layout and ramping
-------------------------
Weights are rounded to whole buckets (1/10,000): each treatment gets
``floor(share * 10000 + 0.5)`` buckets and control the rest. Control sits in the middle of
the bucket range; treatments grow inwards from the two ends: treatment 1 (the second variant)
takes the top buckets, treatment 2 the bottom buckets, treatment 3 the buckets just below
treatment 1, treatment 4 just above treatment 2, and so on, alternating sides. Hence:

* A unit changes variant only if its bucket lies between an old and a new boundary.
* With two or three variants, raising treatments' weights (taking from control) never moves
  a unit out of a treatment whose weight did not decrease: the only units that move are
  control units entering the treatments that grew (a unit in the treatment at 10% is still
  in it at 50%).
* With more variants the same holds for any treatment whose weight did not decrease while
  the treatments further out on its side (odd positions: top end, even: bottom end) kept
  their weights; ramping an outer treatment shifts the inner ones on that side.
"""

from __future__ import annotations

import hashlib
import random as _random
from collections.abc import Sequence
from dataclasses import dataclass
from zlib import crc32

from promptvault.errors import InvalidInputError

__all__ = [
    "BUCKETS",
    "Assigner",
    "Assignment",
    "assign",
    "bucket_of",
    "layout",
    "seed_keys",
    "unit_hash",
]

BUCKETS = 10_000
"""Number of variant buckets: weights have a resolution of 1/10,000."""

_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where one unit landed.

    ``variant`` is None when the unit is outside the coverage (then ``in_experiment`` is
    False). ``bucket`` is 0..9999. ``random`` is True when no unit id was given and the
    variant was drawn at random for this call (such exposures are counted separately).
    """

    variant: str | None
    bucket: int
    in_experiment: bool
    random: bool


def seed_keys(seed: str) -> tuple[int, int]:
    """The experiment's hash keys ``(a, b)``: two big-endian uint64 from SHA-256(seed)."""
    digest = hashlib.sha256(seed.encode()).digest()
    return int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:16], "big")


def unit_hash(seed: str, unit_id: str) -> int:
    """The documented 32-bit hash ``((a * crc32(unit_id) + b) mod 2**64) >> 32``."""
    a, b = seed_keys(seed)
    return ((a * crc32(unit_id.encode()) + b) & _MASK64) >> 32


def bucket_of(seed: str, unit_id: str) -> int:
    """The unit's bucket, 0..9999 (the same whatever the weights)."""
    return (unit_hash(seed, unit_id) * BUCKETS) >> 32


def _bucket_counts(weights: Sequence[float]) -> list[int]:
    """Whole buckets per variant: treatments rounded half-up, control takes the rest."""
    if len(weights) < 2:
        raise InvalidInputError(
            "an experiment needs at least two variants", details={"field": "weights"}
        )
    values: list[float] = []
    for i, w in enumerate(weights):
        if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w < float("inf"):
            raise InvalidInputError(
                f"weight {w!r} must be a finite number >= 0",
                details={"field": f"weights[{i}]", "value": repr(w)},
            )
        values.append(float(w))
    total = sum(values)
    if total <= 0:
        raise InvalidInputError("weights must not all be zero", details={"field": "weights"})
    counts = [0] + [int(w / total * BUCKETS + 0.5) for w in values[1:]]
    for i in range(1, len(values)):
        if values[i] > 0 and counts[i] == 0:
            raise InvalidInputError(
                f"weight {values[i]!r} is below the resolution of 1/{BUCKETS}",
                details={"field": f"weights[{i}]", "value": values[i]},
            )
    # Rounding several treatments up can overshoot when control is (nearly) zero: take the
    # excess from the largest treatments, which changes their shares the least.
    for _ in range(sum(counts) - BUCKETS):
        j = max(range(1, len(counts)), key=lambda k: counts[k])
        counts[j] -= 1
    counts[0] = BUCKETS - sum(counts[1:])
    return counts


def _layout(variants: Sequence[str], counts: Sequence[int]) -> tuple[str, ...]:
    """Bucket -> variant name: control in the middle, treatments inwards from both ends."""
    table: list[str] = [variants[0]] * BUCKETS
    top, bottom = BUCKETS, 0
    for position, (name, count) in enumerate(zip(variants[1:], counts[1:], strict=True)):
        if position % 2 == 0:
            table[top - count : top] = [name] * count
            top -= count
        else:
            table[bottom : bottom + count] = [name] * count
            bottom += count
    return tuple(table)


def layout(weights: Sequence[float]) -> tuple[int, ...]:
    """Bucket -> variant position (0 is control) for these weights: what a phase serves."""
    positions = [str(i) for i in range(len(weights))]
    return tuple(int(p) for p in _layout(positions, _bucket_counts(weights)))


def _bad_unit(unit_id: object) -> InvalidInputError:
    return InvalidInputError(
        f"unit_id must be a string or None, not {type(unit_id).__name__}",
        details={"field": "unit_id"},
    )


class Assigner:
    """Assigns units for one experiment; build it once per experiment and reuse it.

    ``variants`` are the variant names, control first; ``weights`` their relative weights
    (any non-negative numbers, normalised); ``coverage`` the share of units that enter at
    all. The seed keys are derived once and bucket -> variant is a lookup table, so a call
    costs one CRC and four integer operations (about half an MD5-modulo split).

    ``cache_size > 0`` memoises results per unit id in a bounded cache (emptied when it
    holds ``cache_size`` ids): a repeat unit then costs one dictionary lookup, about half
    the uncached call, but a first sighting pays the insertion, so it only pays off when
    most calls are repeats (``bench/experiments.py`` prints the three figures). Off by
    default. Thread-safe: shared state is read-only and each cache operation is atomic.
    """

    __slots__ = (
        "_a",
        "_b",
        "_by_slot",
        "_cache",
        "_cache_size",
        "_cov",
        "_names",
        "_table",
        "counts",
        "coverage",
        "seed",
        "variants",
    )

    def __init__(
        self,
        seed: str,
        variants: Sequence[str],
        weights: Sequence[float],
        *,
        coverage: float = 1.0,
        cache_size: int = 0,
    ) -> None:
        if not isinstance(seed, str):
            raise InvalidInputError("the hash seed must be a string", details={"field": "seed"})
        names = list(variants)
        if len(names) != len(weights):
            raise InvalidInputError(
                f"{len(names)} variants but {len(weights)} weights",
                details={"field": "weights"},
            )
        for i, name in enumerate(names):
            if not isinstance(name, str) or not name:
                raise InvalidInputError(
                    "variant names must be non-empty strings",
                    details={"field": f"variants[{i}]"},
                )
        if len(set(names)) != len(names):
            raise InvalidInputError("variant names must be unique", details={"field": "variants"})
        if (
            isinstance(coverage, bool)
            or not isinstance(coverage, int | float)
            or not 0.0 <= coverage <= 1.0
        ):
            raise InvalidInputError(
                f"coverage {coverage!r} must be between 0 and 1",
                details={"field": "coverage", "value": repr(coverage)},
            )
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise InvalidInputError(
                "cache_size must be an int >= 0", details={"field": "cache_size"}
            )
        self.seed = seed
        self.variants: tuple[str, ...] = tuple(names)
        self.counts: tuple[int, ...] = tuple(_bucket_counts(weights))
        self.coverage = float(coverage)
        self._table = _layout(self.variants, self.counts)
        self._a, self._b = seed_keys(seed)
        # floor(coverage * 2**32); coverage 1 gives 2**32, above every 32-bit fraction.
        self._cov = int(self.coverage * (1 << 32))
        # unit id -> slot: the bucket if inside the coverage, else bucket + BUCKETS.
        self._cache: dict[str, int] = {}
        self._cache_size = cache_size
        self._names: tuple[str | None, ...] = self._table + (None,) * BUCKETS
        # One shared Assignment per slot, built on first use: building a frozen dataclass
        # costs more than the hash itself.
        self._by_slot: list[Assignment | None] = [None] * (2 * BUCKETS)

    @property
    def shares(self) -> tuple[float, ...]:
        """The share of covered units per variant after rounding weights to buckets."""
        return tuple(c / BUCKETS for c in self.counts)

    def bucket(self, unit_id: str) -> int:
        """The unit's bucket, 0..9999, whether or not it is inside the coverage."""
        return self._slot_of(unit_id) % BUCKETS

    def draw(self) -> str:
        """A variant drawn at random with the weights: what a unit-less exposure saw when
        its sender did not say (it is in the experiment, so coverage plays no part)."""
        return self._table[_random.randrange(BUCKETS)]

    def variant_for_bucket(self, bucket: int) -> str:
        """The variant that owns ``bucket`` (0..9999) for a unit inside the coverage."""
        return self._table[bucket]

    def assign(self, unit_id: str | None) -> Assignment:
        """The assignment of ``unit_id``; ``None`` draws a random one (``.random`` is True)."""
        if unit_id is None:
            return self._random()
        slot = self._slot_of(unit_id)
        found = self._by_slot[slot]
        if found is None:
            found = self._by_slot[slot] = self._make(slot, random=False)
        return found

    def variant(self, unit_id: str | None) -> str | None:
        """Just the variant name (None outside coverage): the per-request fast path."""
        # _slot_of() inlined: the method call would be a sixth of the cost.
        cache = self._cache
        slot = cache.get(unit_id)  # type: ignore[arg-type]
        if slot is not None:
            return self._names[slot]
        if unit_id is None:
            return self._random().variant
        try:
            t = (((self._a * crc32(unit_id.encode()) + self._b) >> 32) & 0xFFFFFFFF) * 10000
        except AttributeError:
            raise _bad_unit(unit_id) from None
        slot = t >> 32 if (t & 0xFFFFFFFF) < self._cov else (t >> 32) + 10000
        size = self._cache_size
        if size:
            if len(cache) >= size:
                cache.clear()
            cache[unit_id] = slot
        return self._names[slot]

    def _slot_of(self, unit_id: str) -> int:
        """Bucket if inside the coverage, else bucket + BUCKETS (the documented hash)."""
        cache = self._cache
        slot = cache.get(unit_id)
        if slot is not None:
            return slot
        try:
            t = (((self._a * crc32(unit_id.encode()) + self._b) >> 32) & 0xFFFFFFFF) * 10000
        except AttributeError:
            raise _bad_unit(unit_id) from None
        slot = t >> 32 if (t & 0xFFFFFFFF) < self._cov else (t >> 32) + 10000
        size = self._cache_size
        if size:
            if len(cache) >= size:
                cache.clear()
            cache[unit_id] = slot
        return slot

    def _make(self, slot: int, *, random: bool) -> Assignment:
        bucket = slot % BUCKETS
        inside = slot < BUCKETS
        return Assignment(
            variant=self._table[bucket] if inside else None,
            bucket=bucket,
            in_experiment=inside,
            random=random,
        )

    def _random(self) -> Assignment:
        t = _random.getrandbits(32) * BUCKETS
        slot = t >> 32 if (t & _MASK32) < self._cov else (t >> 32) + BUCKETS
        return self._make(slot, random=True)

    def assign_many(self, unit_ids: Sequence[str]) -> list[str | None]:
        """Variant names for many unit ids at once (vectorised; same mapping, no cache)."""
        import numpy as np

        y = np.fromiter((crc32(u.encode()) for u in unit_ids), dtype=np.uint64, count=len(unit_ids))
        with np.errstate(over="ignore"):  # uint64 wrap-around is the documented mod 2**64
            x = (np.uint64(self._a) * y + np.uint64(self._b)) >> np.uint64(32)
        t = x * np.uint64(BUCKETS)
        buckets = (t >> np.uint64(32)).tolist()
        inside = ((t & np.uint64(_MASK32)) < np.uint64(self._cov)).tolist()
        table = self._table
        return [table[b] if ok else None for b, ok in zip(buckets, inside, strict=True)]


def assign(
    seed: str,
    unit_id: str | None,
    variants: Sequence[str],
    weights: Sequence[float],
    *,
    coverage: float = 1.0,
) -> Assignment:
    """One-off assignment; build an :class:`Assigner` instead when assigning repeatedly."""
    return Assigner(seed, variants, weights, coverage=coverage, cache_size=0).assign(unit_id)
