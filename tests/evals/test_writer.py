"""The result writer commits per time slice or full batch, never per case, and loses none."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from promptvault.errors import ConflictError
from promptvault.evals.runner import ResultWriter
from waiting import async_wait_until


def _result(i: int, cached: bool = False) -> dict[str, Any]:
    return {"case_key": f"c{i}", "cache_key": None if cached else f"k{i}"}


def _saves(count: int, *, batch: int) -> list[tuple[list[str], list[str]]]:
    """Add ``count`` results at once to a writer whose slice never ends by itself, close
    it, and return what each ``save`` got: (case keys, cache keys)."""
    saves: list[tuple[list[str], list[str]]] = []

    def save(results: list[dict[str, Any]], cache: dict[str, dict[str, Any]]) -> None:
        saves.append(([r["case_key"] for r in results], sorted(cache)))

    async def main() -> None:
        writer = ResultWriter(save, batch=batch, interval=3600)
        for i in range(count):
            writer.add(_result(i, cached=i % 3 == 0), None if i % 3 == 0 else (f"k{i}", {}))
            await asyncio.sleep(0)  # the writer's task gets its turn between cases
        await writer.close()

    asyncio.run(main())
    return saves


def test_results_of_a_slice_are_one_commit() -> None:
    saves = _saves(10, batch=256)
    assert len(saves) == 1
    assert saves[0][0] == [f"c{i}" for i in range(10)]
    # each result's response goes to the cache in the same commit; cache hits add none
    assert saves[0][1] == sorted(f"k{i}" for i in range(10) if i % 3)


def test_a_full_batch_commits_without_waiting_for_the_slice() -> None:
    saves = _saves(10, batch=4)
    assert [len(keys) for keys, _ in saves] == [4, 4, 2]
    assert [k for keys, _ in saves for k in keys] == [f"c{i}" for i in range(10)]
    for keys, cache in saves:  # a result and its cache entry commit together
        assert cache == sorted(f"k{k[1:]}" for k in keys if int(k[1:]) % 3)


def test_an_idle_writer_commits_nothing_to_keep_its_lease() -> None:
    saves: list[int] = []

    async def main() -> None:
        writer = ResultWriter(lambda results, cache: saves.append(len(results)), keepalive=0.01)
        writer.start()
        await async_wait_until(lambda: len(saves) >= 3, what="three keepalive commits")
        await writer.close()

    asyncio.run(main())
    assert set(saves) == {0}


def test_a_failed_commit_stops_the_writer_and_close_raises_it() -> None:
    def save(results: list[dict[str, Any]], cache: dict[str, dict[str, Any]]) -> None:
        raise ConflictError("taken over")

    async def main() -> bool:
        writer = ResultWriter(save, batch=2)
        writer.add(_result(0), None)
        writer.add(_result(1), None)  # a full batch: committed at once, and refused
        stopped = writer.start()
        await async_wait_until(stopped.done, what="the writer stopped")
        with pytest.raises(ConflictError):
            await writer.close()
        return True

    assert asyncio.run(main())
