"""Few-shot examples: embedders, selection strategies and token budgets.

``selection`` and ``tokens`` are pure (numpy and text only) so the SDK can select in-process;
``embedders`` turns texts into vectors (``hashing`` built in, ``minilm``, ``openai``).

The public names load on first use (module ``__getattr__``): importing a submodule such as
``promptvault.fewshot.models`` from the SDK must not pull in numpy, which only a local
few-shot build needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptvault.fewshot.embedders import (
        EMBEDDERS,
        Embedder,
        HashingEmbedder,
        MiniLMEmbedder,
        OpenAIEmbedder,
        get_embedder,
    )
    from promptvault.fewshot.selection import (
        by_quality,
        diverse,
        filter_mask,
        fit_examples,
        fit_token_budget,
        mmr,
        random_pick,
        top_k,
    )
    from promptvault.fewshot.tokens import ApproxCounter, TokenCounter, default_counter

# Public name -> the submodule that defines it.
_HOME = {
    "EMBEDDERS": "embedders",
    "ApproxCounter": "tokens",
    "Embedder": "embedders",
    "HashingEmbedder": "embedders",
    "MiniLMEmbedder": "embedders",
    "OpenAIEmbedder": "embedders",
    "TokenCounter": "tokens",
    "by_quality": "selection",
    "default_counter": "tokens",
    "diverse": "selection",
    "filter_mask": "selection",
    "fit_examples": "selection",
    "fit_token_budget": "selection",
    "get_embedder": "embedders",
    "mmr": "selection",
    "random_pick": "selection",
    "top_k": "selection",
}

__all__ = [
    "EMBEDDERS",
    "ApproxCounter",
    "Embedder",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "TokenCounter",
    "by_quality",
    "default_counter",
    "diverse",
    "filter_mask",
    "fit_examples",
    "fit_token_budget",
    "get_embedder",
    "mmr",
    "random_pick",
    "top_k",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
