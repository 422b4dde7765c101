"""The async SDK's experiment side against the in-process app (httpx's ASGI transport)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from promptvault import Vault
from promptvault.client import AsyncPromptVaultClient
from promptvault.client.events import SendFailed
from promptvault.client.events_async import AsyncEventQueue
from promptvault.config import Settings
from promptvault.experiments.assignment import Assigner
from promptvault.server.app import create_app

from .fakes import FakeClock

BASE = "http://promptvault.test"


class LossyTransport(httpx.AsyncBaseTransport):
    """The app's ASGI transport; can lose the answer to an event batch it delivered."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.event_keys: list[str] = []
        self.lose_event_answers = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path == "/v1/events":
            self.event_keys.append(json.loads(await request.aread())["key"])
            if self.lose_event_answers:
                self.lose_event_answers -= 1
                raise httpx.ReadTimeout("answer lost", request=request)
        return response


@pytest.fixture
def vault(database_url: str) -> Iterator[Vault]:
    v = Vault(Settings(database_url=database_url))
    v.push("support", template="Hello {{name}}", author="seed")
    v.push("support", template="Hi {{name}}", author="seed")
    v.experiments.create(
        "tone",
        prompt="support",
        variants=[{"name": "control", "version": 1}, {"name": "friendly", "version": 2}],
        primary_metric={"name": "resolved", "kind": "binary"},
    )
    v.experiments.start("tone")
    yield v
    v.close()


@pytest.fixture
def setup(vault: Vault) -> tuple[LossyTransport, str]:
    app = create_app(vault)
    key = app.state.keys.create("app", "runtime", actor="setup")[0]
    return LossyTransport(app), key


def test_async_get_routes_and_events_arrive(vault: Vault, setup: Any) -> None:
    transport, key = setup
    assigner = Assigner("tone", ["control", "friendly"], [1, 1])

    async def run() -> None:
        pv = AsyncPromptVaultClient(
            BASE,
            key,
            transport=transport,
            clock=FakeClock(),
            event_interval=60,
            retries=0,
            timeout=60,
        )
        for i in range(20):
            unit = f"u{i}"
            got = await pv.get("support", unit_id=unit)
            assert (got.experiment, got.variant) == ("tone", assigner.variant(unit))
            text = await pv.render("support", {"name": "Ada"}, unit_id=unit)
            assert text == ("Hello Ada" if got.variant == "control" else "Hi Ada")
            assert pv.record_outcome("tone", unit, "resolved", i % 2)
        assert (await pv.get("support")).experiment is None
        transport.lose_event_answers = 1
        assert (await pv.flush()).waiting == 60  # the answer was lost: kept with its key
        assert (await pv.flush()).waiting == 0
        assert transport.event_keys[0] == transport.event_keys[1]
        pv.record_exposure("tone", "late", variant="control")
        await pv.aclose()  # sends what is left

    asyncio.run(run())
    report = vault.experiments.report("tone")
    assert sum(report.units.values()) == 21
    assert sum(report.exposures.values()) == 41
    assert sum(v["n"] for v in report.analysis["metrics"][0]["variants"]) == 20


def test_async_queue_bounds_and_retries() -> None:
    attempts: list[tuple[str, int]] = []
    reported: list[int] = []
    outcomes = iter([SendFailed("down", retry=True), None])

    async def send(key: str, events: list[dict[str, Any]], dropped: int = 0) -> None:
        attempts.append((key, len(events)))
        reported.append(dropped)
        failure = next(outcomes)
        if failure is not None:
            raise failure

    async def run() -> None:
        queue = AsyncEventQueue(send, batch_size=10, interval=60, max_buffer=4)
        assert [queue.add({"n": i}) for i in range(6)] == [True] * 4 + [False] * 2
        assert queue.dropped == 2
        assert await queue.flush() == 4
        assert await queue.flush() == 0
        assert attempts[0] == attempts[1] == (attempts[0][0], 4)
        assert reported == [2, 2]  # the retry reports the same drops under the same key
        assert tuple(await queue.settle()) == (4, 2, 0)
        await queue.aclose()
        assert not queue.add({"n": 9})

    asyncio.run(run())
