"""Never failing: outages fall back to memory, disk, the caller's value, then PromptUnavailable."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from promptvault.client import AsyncPromptVaultClient, PromptVaultClient
from promptvault.errors import MissingVariablesError, PromptUnavailable

from .fakes import BASE, FakeClock, FakeServer, version_json


def make(server: FakeServer, clock: FakeClock, **options: object) -> PromptVaultClient:
    return PromptVaultClient(
        BASE,
        "pv_test",
        transport=server.transport(),
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("failure", ["refused", "timeout", "500", "503"])
def test_outage_serves_last_known_good_from_memory(
    server: FakeServer, clock: FakeClock, failure: str
) -> None:
    server.add("support", "Hello {{name}}")
    pv = make(server, clock, cache_ttl=5)
    assert pv.render("support", {"name": "Ada"}) == "Hello Ada"
    server.fail = failure
    clock.advance(10)
    for _ in range(3):
        assert pv.render("support", {"name": "Bo"}) == "Hello Bo"
    pv.wait_idle(5)
    assert pv.get("support").version == 1


@pytest.mark.parametrize("failure", ["refused", "timeout", "500"])
def test_restarted_app_starts_from_disk_without_server(
    server: FakeServer, clock: FakeClock, tmp_path: Path, failure: str
) -> None:
    server.add("support", "Hello {{name}}")
    first = make(server, clock, fallback_dir=str(tmp_path))
    first.render("support", {"name": "Ada"})
    first.close()

    server.fail = failure
    restarted = make(server, clock, fallback_dir=str(tmp_path), retries=0)
    assert restarted.render("support", {"name": "Bo"}) == "Hello Bo"
    assert restarted.get("support").version == 1


def test_disk_copy_is_written_atomically_and_replaced_on_change(
    server: FakeServer, clock: FakeClock, tmp_path: Path
) -> None:
    server.add("support", "one")
    pv = make(server, clock, cache_ttl=1, fallback_dir=str(tmp_path))
    pv.get("support")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1 and not files[0].name.startswith(".tmp")
    assert json.loads(files[0].read_text())["template"] == "one"
    server.add("support", "two")
    server.move("support", "production", 2)
    clock.advance(2)
    pv.get("support")
    pv.wait_idle(5)
    assert json.loads(files[0].read_text())["template"] == "two"
    assert [p for p in tmp_path.rglob(".tmp*")] == []


def test_caller_fallback_then_prompt_unavailable(server: FakeServer, clock: FakeClock) -> None:
    server.fail = "refused"
    pv = make(server, clock, retries=0)
    sentinel = object()
    assert pv.get("support", fallback=sentinel) is sentinel
    assert pv.render("support", {"name": "Ada"}, fallback="Hi {{name}}") == "Hi Ada"
    with pytest.raises(PromptUnavailable) as info:
        pv.get("support")
    assert info.value.details["ref"] == "support@production"


def test_timeout_is_enforced_on_a_hanging_server(server: FakeServer, clock: FakeClock) -> None:
    async def scenario() -> PromptUnavailable:
        never = asyncio.Event()  # the server never answers

        async def hang(request: httpx.Request) -> httpx.Response:
            await never.wait()
            return httpx.Response(200)

        pv = AsyncPromptVaultClient(
            BASE, transport=httpx.MockTransport(hang), timeout=0.2, clock=clock
        )
        with pytest.raises(PromptUnavailable) as info:
            # The outer deadline only stops a broken client from hanging the test run.
            await asyncio.wait_for(pv.get("support"), 60)
        await pv.aclose()
        return info.value

    error = asyncio.run(scenario())
    assert "timed out" in error.details["reason"]


def test_retries_idempotent_reads_only(server: FakeServer, clock: FakeClock) -> None:
    server.add("support", "x")
    server.fail = "503"
    pv = make(server, clock, retries=2, timeout=5)
    pv.get("support", fallback=None)
    assert server.resolves() == 3  # first try + 2 retries

    server.requests.clear()
    with pytest.raises(PromptUnavailable):
        pv.push("support", template="y")
    with pytest.raises(PromptUnavailable):
        pv.rollback("support")
    posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 2  # one each: a lost answer must not push or roll back twice

    server.requests.clear()
    with pytest.raises(PromptUnavailable):
        pv.set_label("support", "staging", 1)
    assert len([r for r in server.requests if r.method == "PUT"]) == 3


def test_retry_recovers_from_one_transient_failure(server: FakeServer, clock: FakeClock) -> None:
    server.add("support", "x")
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(
            200, json=version_json("support", 1, "x", resolved_label="production")
        )

    server.handler = flaky
    pv = make(server, clock, retries=2, timeout=5)
    assert pv.get("support").version == 1
    assert calls["n"] == 2


def test_server_errors_are_rebuilt_as_the_same_classes(
    server: FakeServer, clock: FakeClock
) -> None:
    def reject(request: httpx.Request) -> httpx.Response:
        body = {
            "error": {
                "code": "missing_variables",
                "message": "missing variables: name",
                "details": {"missing": [{"name": "name", "line": 1, "column": 7}]},
            }
        }
        return httpx.Response(422, json=body)

    server.handler = reject
    pv = make(server, clock)
    with pytest.raises(MissingVariablesError) as info:
        pv.push("support", template="Hi {{name}}")
    assert info.value.names == ["name"]


def test_async_client_falls_back_the_same_way(
    server: FakeServer, clock: FakeClock, tmp_path: Path
) -> None:
    server.add("support", "Hello {{name}}")

    async def scenario() -> None:
        pv = AsyncPromptVaultClient(
            BASE, transport=server.transport(), clock=clock, cache_ttl=5, fallback_dir=str(tmp_path)
        )
        assert await pv.render("support", {"name": "Ada"}) == "Hello Ada"
        server.fail = "refused"
        clock.advance(10)
        assert await pv.render("support", {"name": "Bo"}) == "Hello Bo"
        await pv.wait_idle()
        await pv.aclose()
        cold = AsyncPromptVaultClient(
            BASE, transport=server.transport(), clock=clock, fallback_dir=str(tmp_path), retries=0
        )
        assert (await cold.get("support")).version == 1
        with pytest.raises(PromptUnavailable):
            await cold.get("other")
        await cold.aclose()

    asyncio.run(scenario())
