"""Experiments: assignment, statistics and reports (pure), and the service (storage-backed).

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
