"""SingleFlight: concurrent misses for one key share a single blocking call."""

from __future__ import annotations

import asyncio
import threading

import pytest

from promptvault.errors import PromptNotFound
from promptvault.server.singleflight import SingleFlight
from waiting import async_wait_until


def test_concurrent_callers_share_one_call_and_later_callers_call_again() -> None:
    flight = SingleFlight()
    calls: list[str] = []
    release = threading.Event()

    def slow_read(name: str) -> str:
        calls.append(name)
        release.wait(5)
        return f"value of {name}"

    async def scenario() -> tuple[list[str], list[str], str]:
        same = [asyncio.create_task(flight.run("a", slow_read, "a")) for _ in range(20)]
        other = asyncio.create_task(flight.run("b", slow_read, "b"))
        # Each first caller is inside its read; the others joined in the same loop step.
        await async_wait_until(lambda: sorted(calls) == ["a", "b"], what="both reads")
        release.set()
        results = await asyncio.gather(*same)
        later = await flight.run("a", slow_read, "a")
        return list(results), [await other], later

    results, other, later = asyncio.run(scenario())
    assert results == ["value of a"] * 20
    assert other == ["value of b"]
    assert later == "value of a"
    assert sorted(calls) == ["a", "a", "b"]  # 20 concurrent callers: one call; then one more


def test_a_failure_reaches_every_waiter_and_is_not_cached() -> None:
    flight = SingleFlight()
    release = threading.Event()
    attempts = 0

    def failing() -> str:
        nonlocal attempts
        attempts += 1
        release.wait(5)
        raise PromptNotFound("no prompt 'x'")

    async def scenario() -> list[BaseException | str]:
        tasks = [asyncio.create_task(flight.run("x", failing)) for _ in range(5)]
        await async_wait_until(lambda: attempts == 1, what="the first attempt")
        release.set()
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    outcomes = asyncio.run(scenario())
    assert all(isinstance(o, PromptNotFound) for o in outcomes)
    assert attempts == 1
    with pytest.raises(PromptNotFound):
        asyncio.run(flight.run("x", failing))
    assert attempts == 2
