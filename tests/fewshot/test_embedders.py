"""Embedders: hashing (built in) and an OpenAI-compatible endpoint served on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from promptvault.config import Settings
from promptvault.errors import InvalidInputError, PromptUnavailable
from promptvault.fewshot.embedders import (
    Embedder,
    HashingEmbedder,
    MiniLMEmbedder,
    OpenAIEmbedder,
    get_embedder,
)

TEXTS = [
    "My order has not arrived yet",
    "Where is my package? The order still has not arrived.",
    "How do I reset my password?",
    "The quarterly earnings report shows growth in revenue.",
]


# --- hashing ---------------------------------------------------------------------------


def test_hashing_shape_dtype_and_unit_rows() -> None:
    v = HashingEmbedder().embed(TEXTS)
    assert v.shape == (4, 384)
    assert v.dtype == np.float32
    assert v.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)


def test_hashing_is_deterministic_across_processes() -> None:
    here = HashingEmbedder().embed(TEXTS)
    code = (
        "import sys, json; from promptvault.fewshot.embedders import HashingEmbedder;"
        "v = HashingEmbedder().embed(json.loads(sys.argv[1]));"
        "sys.stdout.write(v.tobytes().hex())"
    )
    # A different PYTHONHASHSEED proves nothing depends on Python's salted str hash.
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout
    there = np.frombuffer(bytes.fromhex(out), dtype=np.float32).reshape(here.shape)
    assert np.array_equal(here, there)
    # and batching does not change a row
    assert np.array_equal(HashingEmbedder().embed(TEXTS[1:2])[0], here[1])


def test_hashing_similar_texts_are_closer_than_unrelated_ones() -> None:
    v = HashingEmbedder().embed(TEXTS)
    sims = v @ v.T
    assert sims[0, 1] > sims[0, 2]
    assert sims[0, 1] > sims[0, 3]
    assert sims[2, 3] < sims[0, 1]


def test_hashing_normalises_case_and_spacing_and_handles_empty() -> None:
    e = HashingEmbedder()
    a, b, empty, blank = e.embed(["Hello   World", "hello world", "", "   "])
    assert np.array_equal(a, b)
    assert not empty.any() and not blank.any()
    assert e.embed([]).shape == (0, 384)
    unicode_rows = e.embed(["naïve café 東京", "\ud800 lone surrogate"])
    np.testing.assert_allclose(np.linalg.norm(unicode_rows, axis=1), 1.0, rtol=1e-5)


def test_hashing_large_batches_match_small_ones() -> None:
    e = HashingEmbedder()
    texts = [f"example number {i} about topic {i % 7}" for i in range(e.CHUNK + 10)]
    big = e.embed(texts)
    assert big.shape == (len(texts), 384)
    assert np.array_equal(big[-3:], e.embed(texts[-3:]))


def test_embed_rejects_a_single_string_and_non_strings() -> None:
    with pytest.raises(InvalidInputError):
        HashingEmbedder().embed("just one string")
    with pytest.raises(InvalidInputError) as err:
        HashingEmbedder().embed(["ok", 3])  # type: ignore[list-item]
    assert err.value.details["field"] == "texts[1]"


def test_get_embedder_by_name() -> None:
    assert isinstance(get_embedder("hashing"), HashingEmbedder)
    assert get_embedder("hashing").spec == "hashing:v1:384"
    minilm = get_embedder("minilm")
    assert isinstance(minilm, MiniLMEmbedder) and minilm is get_embedder("minilm")
    assert minilm.spec == "minilm:all-MiniLM-L6-v2:384"
    with pytest.raises(InvalidInputError) as err:
        get_embedder("word2vec")
    assert err.value.details["choices"] == ["hashing", "minilm", "openai"]
    with pytest.raises(InvalidInputError) as err:
        get_embedder("openai", Settings())
    assert err.value.details["field"] == "embeddings_url"
    for e in (HashingEmbedder(), minilm):
        assert isinstance(e, Embedder)


# --- OpenAI-compatible endpoint --------------------------------------------------------


class Stub:
    """An OpenAI-compatible /v1/embeddings server; ``plan`` scripts failures first."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.plan: list[int] = []  # statuses to answer before succeeding
        self.retry_after: str | None = None
        self.dim = 4
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                )
                if stub.plan:
                    status = stub.plan.pop(0)
                    payload = json.dumps({"error": {"message": f"boom {status}"}}).encode()
                    self.send_response(status)
                    if stub.retry_after:
                        self.send_header("Retry-After", stub.retry_after)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                # Deliberately unnormalised, and listed in reverse index order.
                data = [
                    {
                        "object": "embedding",
                        "index": i,
                        "embedding": [len(t), 1.0] + [0.0] * (stub.dim - 2),
                    }
                    for i, t in enumerate(body["input"])
                ][::-1]
                payload = json.dumps(
                    {"object": "list", "data": data, "model": body["model"]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    yield s
    s.close()


def expected_rows(texts: list[str], dim: int = 4) -> np.ndarray:
    raw = np.array([[len(t), 1.0] + [0.0] * (dim - 2) for t in texts], np.float32)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def test_openai_embeds_in_batches_in_order_and_normalised(stub: Stub) -> None:
    e = OpenAIEmbedder(stub.url, model="tiny-embed", api_key="sk-test", batch_size=2)
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    v = e.embed(texts)
    np.testing.assert_allclose(v, expected_rows(texts), rtol=1e-6)
    assert [r["body"]["input"] for r in stub.requests] == [["a", "bb"], ["ccc", "dddd"], ["eeeee"]]
    first = stub.requests[0]
    assert first["path"] == "/v1/embeddings"
    assert first["auth"] == "Bearer sk-test"
    assert first["body"] == {
        "model": "tiny-embed",
        "input": ["a", "bb"],
        "encoding_format": "float",
    }
    assert e.dim == 4 and e.spec == "openai:tiny-embed:4"


def test_openai_retries_after_a_500_and_a_429(stub: Stub) -> None:
    stub.plan = [500, 429]
    stub.retry_after = "0"
    e = OpenAIEmbedder(stub.url, model="m", backoff=0.001, max_retries=3)
    v = e.embed(["hello"])
    np.testing.assert_allclose(v, expected_rows(["hello"]), rtol=1e-6)
    assert len(stub.requests) == 3
    assert e.requests_made == 3


def test_openai_gives_up_after_max_retries(stub: Stub) -> None:
    stub.plan = [503, 503, 503]
    e = OpenAIEmbedder(stub.url, model="m", backoff=0.001, max_retries=2)
    with pytest.raises(PromptUnavailable) as err:
        e.embed(["x"])
    assert err.value.details["attempts"] == 3
    assert "503" in err.value.details["reason"]
    assert len(stub.requests) == 3


def test_openai_client_errors_are_not_retried(stub: Stub) -> None:
    stub.plan = [401]
    e = OpenAIEmbedder(stub.url, model="m", backoff=0.001)
    with pytest.raises(InvalidInputError) as err:
        e.embed(["x"])
    assert err.value.details["status"] == 401
    assert len(stub.requests) == 1


def test_openai_connection_refused_is_retried_then_unavailable() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens on this port now
    e = OpenAIEmbedder(f"http://127.0.0.1:{port}/v1", backoff=0.001, max_retries=1, timeout=2)
    with pytest.raises(PromptUnavailable):
        e.embed(["x"])
    assert e.requests_made == 2


def test_openai_from_settings_and_dimensions(stub: Stub) -> None:
    settings = Settings(embeddings_url=stub.url, embeddings_api_key="k", embeddings_model="small")
    e = get_embedder("openai", settings)
    assert isinstance(e, OpenAIEmbedder)
    assert e.dim == 4  # unknown model: learned from one probe request
    assert stub.requests[0]["body"]["input"] == ["dimension probe"]
    sized = OpenAIEmbedder(stub.url, model="m", dimensions=4)
    sized.embed(["a"])
    assert stub.requests[-1]["body"]["dimensions"] == 4
    assert OpenAIEmbedder(stub.url, model="text-embedding-3-small").dim == 1536


def test_openai_rejects_wrong_dimension_and_bad_url(stub: Stub) -> None:
    e = OpenAIEmbedder(stub.url, model="m", dimensions=8)
    with pytest.raises(PromptUnavailable):
        e.embed(["a"])
    with pytest.raises(InvalidInputError):
        OpenAIEmbedder("not a url")
