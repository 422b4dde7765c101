"""Single-query searches run on one BLAS thread; the application's limit is kept outside."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

from promptvault.entities import Example
from promptvault.fewshot import index as index_module
from promptvault.fewshot.blas import blas_threads, one_blas_thread
from promptvault.fewshot.index import CollectionIndex


@pytest.fixture
def two_threads() -> Iterator[None]:
    """BLAS at two threads for the test (the default on a 2-core machine), restored after."""
    controller = ThreadpoolController()
    assert controller.select(user_api="blas").lib_controllers, "numpy's BLAS not found"
    with controller.limit(limits=2, user_api="blas"):
        assert {t for _, t in blas_threads()} == {2}
        yield


def threads() -> set[int]:
    return {t for _, t in blas_threads()}


def test_scope_limits_to_one_thread_and_restores(two_threads: None) -> None:
    with one_blas_thread():
        assert threads() == {1}
        with one_blas_thread():  # re-entrant
            assert threads() == {1}
        assert threads() == {1}
    assert threads() == {2}


def test_concurrent_scopes_restore_the_limit_once(two_threads: None) -> None:
    inside = threading.Barrier(4)
    leave = threading.Event()
    seen: list[set[int]] = []

    def search() -> None:
        with one_blas_thread():
            inside.wait(timeout=10)
            seen.append(threads())
            leave.wait(timeout=10)

    workers = [threading.Thread(target=search) for _ in range(3)]
    for w in workers:
        w.start()
    inside.wait(timeout=10)  # all three are inside their scope
    assert threads() == {1}
    leave.set()
    for w in workers:
        w.join(timeout=10)
    assert seen == [{1}, {1}, {1}]
    assert threads() == {2}  # the last one out put the application's limit back


def test_semantic_and_mmr_selection_run_on_one_thread(
    two_threads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    during: list[set[int]] = []
    real_top_k, real_mmr = index_module.top_k, index_module.mmr

    def top_k(*args: Any, **kwargs: Any) -> Any:
        during.append(threads())
        return real_top_k(*args, **kwargs)

    def mmr(*args: Any, **kwargs: Any) -> Any:
        during.append(threads())
        return real_mmr(*args, **kwargs)

    monkeypatch.setattr(index_module, "top_k", top_k)
    monkeypatch.setattr(index_module, "mmr", mmr)
    rng = np.random.default_rng(0)
    m = rng.standard_normal((50, 8)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    examples = [
        Example.model_construct(id=i, input=f"q{i}", output="a", category=None, quality=1.0)
        for i in range(50)
    ]
    index = CollectionIndex.build(1, 8, examples, m)
    assert index.select("semantic", 3, query=m[7]).tolist()[0] == 7
    assert index.select("mmr", 3, query=m[7]).tolist()[0] == 7
    assert during == [{1}, {1}]
    assert threads() == {2}
