"""Few-shot examples: embedders, selection strategies and token budgets.

``selection`` and ``tokens`` are pure (numpy and text only) so the SDK can select in-process;
``embedders`` turns texts into vectors (``hashing`` built in, ``minilm``, ``openai``).
"""

from __future__ import annotations

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
