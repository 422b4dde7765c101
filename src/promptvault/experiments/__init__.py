"""Experiments: assignment, statistics and reports (pure), and the service (storage-backed).

Rules every path follows (library, server, SDK; ``docs/experiments.md`` says more):

* **Assignment** is a keyed hash of the unit id into 10,000 buckets, laid out by the
  current weights (:mod:`.assignment`); a unit-less exposure is drawn with those weights.
* **Ramps** are analysed by phase (:mod:`.phases`): a unit counts in the phase (weight
  epoch) of its first exposure for the variant it was first served, units whose bucket a
  later phase moved are left out, and per-phase lifts are combined with count-only
  weights, so a lift measured across a ramp is unbiased.

Submodules load on first use, so ``from promptvault.experiments import assignment`` in the
SDK pulls in neither numpy nor the database layer.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

__all__ = ["analysis", "assignment", "stats"]

if TYPE_CHECKING:
    from promptvault.experiments import analysis, assignment, stats


def __getattr__(name: str) -> ModuleType:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
