"""Adaptive allocation: Thompson sampling weights from sufficient statistics (pure, numpy).

An experiment with ``allocation: bandit`` gets new weights on a schedule
(:meth:`~promptvault.experiments.service.ExperimentService.reallocate`): each arm's weight
is the posterior probability that it is the best arm, lifted to at least ``floor`` so every
arm keeps learning::

    weight_k = floor + (1 - K * floor) * P(arm k is best | data)

Posteriors: a binary metric uses Beta(1 + successes, 1 + failures); a continuous metric a
Normal with unknown variance under the reference prior, whose posterior for the mean is
``mean + se * t(n - 1)``. ``P(best)`` is estimated from ``draws`` joint posterior draws
with a generator seeded by the experiment's seed and epoch, so a reallocation is
reproducible. The weights are stored (a new phase), so assignment stays deterministic and
client-side between updates.

Inference: within a phase the weights are fixed, so the report compares arms phase by phase
and combines the phases (:mod:`.phases`), with always-valid confidence sequences in the
sequential mode -- valid under adaptive allocation, unlike a pooled fixed-weight test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from promptvault.experiments.models import check_floor
from promptvault.experiments.stats import Summary

__all__ = [
    "DEFAULT_FLOOR",
    "best_probabilities",
    "binary_best_probabilities",
    "generator",
    "regret",
    "thompson_weights",
]

DEFAULT_FLOOR = 0.05
"""Each arm's least share of traffic under a bandit."""


def generator(seed: str, epoch: int) -> np.random.Generator:
    """The reproducible generator of one reallocation."""
    digest = hashlib.sha256(f"{seed}\x00bandit\x00{epoch}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def binary_best_probabilities(
    successes: NDArray[np.float64] | Sequence[float],
    trials: NDArray[np.float64] | Sequence[float],
    *,
    draws: int,
    rng: np.random.Generator,
    lower: bool = False,
) -> NDArray[np.float64]:
    """``P(arm is best)`` under Beta(1 + s, 1 + n - s) posteriors; the last axis is the arm.

    Leading axes (many simulated experiments at once) are kept.
    """
    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    sample = rng.beta(
        1.0 + s[..., None, :], 1.0 + (n - s)[..., None, :], size=(*s.shape[:-1], draws, s.shape[-1])
    )
    if lower:
        sample = -sample
    best = sample.argmax(axis=-1)
    arms = s.shape[-1]
    counts = np.stack([(best == k).sum(axis=-1) for k in range(arms)], axis=-1)
    return np.asarray(counts / draws, dtype=np.float64)


def best_probabilities(
    kind: str,
    summaries: Sequence[Summary],
    *,
    draws: int,
    rng: np.random.Generator,
    lower: bool = False,
) -> NDArray[np.float64]:
    """``P(arm is best)`` for one metric's per-arm summaries (binary or continuous)."""
    if kind == "binary":
        return binary_best_probabilities(
            [s.sum for s in summaries], [s.n for s in summaries], draws=draws, rng=rng, lower=lower
        )
    arms = len(summaries)
    if any(s.n < 2 for s in summaries):  # no variance yet: nothing to prefer
        return np.full(arms, 1.0 / arms)
    columns = []
    for s in summaries:
        mean = s.sum / s.n
        se = (s.variance or 0.0) ** 0.5 / s.n**0.5
        columns.append(mean + se * rng.standard_t(s.n - 1, size=draws))
    sample = np.stack(columns, axis=-1)
    if lower:
        sample = -sample
    best = sample.argmax(axis=-1)
    return np.array([(best == k).mean() for k in range(arms)], dtype=np.float64)


def thompson_weights(
    kind: str,
    summaries: Sequence[Summary],
    *,
    floor: float,
    rng: np.random.Generator,
    draws: int = 10_000,
    lower: bool = False,
) -> list[float]:
    """Weights (summing to 1) from ``P(best)`` with each arm at least ``floor``."""
    floor = check_floor(floor, len(summaries))
    p = best_probabilities(kind, summaries, draws=draws, rng=rng, lower=lower)
    weights = floor + (1.0 - len(summaries) * floor) * p
    # Rounded to the bucket resolution so an unchanged posterior gives unchanged weights.
    return [round(float(w), 4) for w in weights]


def regret(
    units: Sequence[int], means: Sequence[float | None], *, lower: bool = False
) -> dict[str, float]:
    """Outcomes lost against always serving the best arm, estimated with the observed means.

    ``bandit``: with the units each arm actually got; ``fixed_split``: had the same units been
    split equally; ``saved``: the difference (positive when the bandit lost less).
    """
    known = [(u, m) for u, m in zip(units, means, strict=True) if m is not None]
    if not known:
        return {"bandit": 0.0, "fixed_split": 0.0, "saved": 0.0}
    best = min(m for _, m in known) if lower else max(m for _, m in known)
    gap = [abs(best - m) for _, m in known]
    total = sum(u for u, _ in known)
    bandit = sum(u * g for (u, _), g in zip(known, gap, strict=True))
    fixed = total * sum(gap) / len(gap)
    return {"bandit": bandit, "fixed_split": fixed, "saved": fixed - bandit}
