"""The SDK against the real app: async through httpx's ASGI transport, sync over loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from promptvault import Vault
from promptvault.client import AsyncPromptVaultClient, PromptVaultClient
from promptvault.config import Settings
from promptvault.errors import (
    InvalidInputError,
    LabelProtectedError,
    MissingVariablesError,
    PayloadTooLargeError,
    PromptNotFound,
    TemplateSyntaxError,
    UnauthenticatedError,
    VersionNotFound,
)
from promptvault.server.app import create_app
from waiting import wait_until

from .fakes import FakeClock

BASE = "http://promptvault.test"


class CountingTransport(httpx.AsyncBaseTransport):
    """The app's ASGI transport, counting resolve requests per reference."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.resolves: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/resolve"):
            self.resolves.append(f"{request.url.path}?{request.url.query.decode()}")
        return await self.inner.handle_async_request(request)


@pytest.fixture
def vault(database_url: str) -> Iterator[Vault]:
    v = Vault(Settings(database_url=database_url))
    yield v
    v.close()


@pytest.fixture
def app(vault: Vault) -> FastAPI:
    return create_app(vault)


@pytest.fixture
def keys(app: FastAPI) -> dict[str, str]:
    service = app.state.keys
    return {r: service.create(f"{r}-key", r)[0] for r in ("runtime", "editor", "admin")}


def test_async_client_round_trip(app: FastAPI, keys: dict[str, str]) -> None:
    clock = FakeClock()
    transport = CountingTransport(app)

    async def scenario() -> None:
        async with AsyncPromptVaultClient(
            BASE, keys["admin"], transport=transport, clock=clock, cache_ttl=60, timeout=60
        ) as pv:
            made = await pv.push(
                "team/support", template="Hello {{name}}", config={"model": "gpt-4o"}
            )
            assert made.created and made.version.version == 1 and made.version.author == "admin-key"
            again = await pv.push(
                "team/support", template="Hello {{name}}", config={"model": "gpt-4o"}
            )
            assert not again.created
            await pv.push("team/support", template="Hi {{name}}", labels=["staging"])

            assert await pv.render("team/support", {"name": "Ada"}) == "Hello Ada"
            assert await pv.render("team/support@staging", {"name": "Ada"}) == "Hi Ada"
            assert (await pv.get("team/support@1")).template == "Hello {{name}}"
            count = len(transport.resolves)
            for _ in range(5):
                await pv.render("team/support", {"name": "Bo"})
            assert len(transport.resolves) == count  # served from memory

            # A label move through the client invalidates exactly that key.
            await pv.set_label("team/support", "production", 2)
            assert await pv.render("team/support", {"name": "Ada"}) == "Hi Ada"
            assert await pv.render("team/support@staging", {"name": "Ada"}) == "Hi Ada"
            assert len(transport.resolves) == count + 1

            await pv.rollback("team/support")
            assert (await pv.get("team/support")).version == 1
            history = await pv.label_history("team/support", "production")
            assert [(e.from_version, e.to_version) for e in history][:2] == [(2, 1), (1, 2)]
            assert await pv.labels("team/support") == {"production": 1, "staging": 2}
            assert [v.version for v in await pv.versions("team/support")] == [2, 1]
            assert [p.name for p in await pv.list_prompts()] == ["team/support"]
            diff = await pv.diff("team/support@1", "team/support@staging")
            assert "+Hi {{name}}" in diff.unified

            with pytest.raises(MissingVariablesError) as missing:
                await pv.render("team/support", {})
            assert missing.value.names == ["name"]
            with pytest.raises(PromptNotFound):
                await pv.get("nope")
            with pytest.raises(VersionNotFound):
                await pv.get("team/support@99")
            with pytest.raises(TemplateSyntaxError) as syntax:
                await pv.push("team/support", template="Hi {{#open}}")
            assert syntax.value.line == 1 and syntax.value.column is not None

        async with AsyncPromptVaultClient(
            BASE, keys["editor"], transport=transport, timeout=60
        ) as editor:
            with pytest.raises(LabelProtectedError):
                await editor.set_label("team/support", "production", 2)
        async with AsyncPromptVaultClient(
            BASE, "pv_bad", transport=transport, timeout=60
        ) as nobody:
            with pytest.raises(UnauthenticatedError):
                await nobody.labels("team/support")

    asyncio.run(scenario())


def test_chat_prompt_renders_locally_like_the_server(
    app: FastAPI, keys: dict[str, str], vault: Vault
) -> None:
    messages = [
        {"role": "system", "content": "You help {{company}}."},
        {"type": "placeholder", "name": "history"},
        {"role": "user", "content": "{{question}}"},
    ]
    vault.push("bot", template=messages, author="seed")
    history = [{"role": "user", "content": "{{not a template}}"}]
    variables: dict[str, Any] = {"company": "Acme", "question": "Hi?"}

    async def scenario() -> Any:
        async with AsyncPromptVaultClient(
            BASE, keys["runtime"], transport=httpx.ASGITransport(app=app), timeout=60
        ) as pv:
            return await pv.render("bot", variables, placeholders={"history": history})

    local = asyncio.run(scenario())
    assert local == vault.render("bot", variables, placeholders={"history": history})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a loopback port, in a thread."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="uvicorn to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_sync_client_over_loopback(live: str, keys: dict[str, str], vault: Vault) -> None:
    vault.push("support", template="Hello {{name}}", author="seed")
    vault.push("support", template="Hi {{name}}", author="seed", labels=["staging"])
    clock = FakeClock()
    # No push: this is the TTL at work (a push would bring the move at once).
    with PromptVaultClient(
        live, keys["editor"], clock=clock, cache_ttl=30, timeout=60, push=False
    ) as pv:
        assert pv.render("support", {"name": "Ada"}) == "Hello Ada"
        assert pv.render("support@staging", {"name": "Ada"}) == "Hi Ada"
        vault.set_label("support", "staging", 1, actor="elsewhere")  # not through this client
        assert pv.render("support@staging", {"name": "Ada"}) == "Hi Ada"  # cached for the TTL
        clock.advance(31)
        pv.get("support@staging")  # stale answer; refresh behind
        pv.wait_idle(60)  # a loaded machine can take seconds
        assert pv.render("support@staging", {"name": "Ada"}) == "Hello Ada"
        pv.set_label("support", "staging", 2)
        assert pv.render("support@staging", {"name": "Ada"}) == "Hi Ada"
        with pytest.raises(LabelProtectedError):
            pv.rollback("support", label="production")


def _experiment(vault: Vault) -> None:
    vault.push("support", template="Hello {{name}}", author="seed")
    vault.push("support", template="Hi {{name}}", author="seed")
    vault.experiments.create(
        "tone",
        prompt="support",
        variants=[{"name": "control", "version": 1}, {"name": "friendly", "version": 2}],
        primary_metric={"name": "resolved", "kind": "binary"},
        start=True,
    )
    vault.experiments.check_every = 10**9  # the checks are not what this measures


@pytest.fixture
def sqlite_live(sqlite_url: str) -> Iterator[tuple[str, str, Vault]]:
    """A Vault on SQLite served on loopback, with a runtime key."""
    vault = Vault(Settings(database_url=sqlite_url))
    app = create_app(vault)
    key = app.state.keys.create("runtime-key", "runtime")[0]
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="uvicorn to start")
    yield f"http://127.0.0.1:{port}", key, vault
    server.should_exit = True
    thread.join(10)
    vault.close()


def test_a_batch_job_recording_fast_loses_no_outcome(
    sqlite_live: tuple[str, str, Vault],
) -> None:
    live, key, vault = sqlite_live
    _experiment(vault)
    units = [f"u{i}" for i in range(500)]
    # A small buffer, so the loop outruns the sender many times over.
    with PromptVaultClient(live, key, timeout=60, event_buffer=2000) as pv:
        for unit in units:
            assert pv.record_exposure("tone", unit)
        pv.flush()
        for i in range(50_000):
            assert pv.record_outcome("tone", units[i % 500], "resolved", i % 3 == 0)
        result = pv.flush()
        assert (result.lost, result.waiting, pv.dropped) == (0, 0, 0)
        assert result.sent == 50_000
    report = vault.experiments.report("tone")
    (resolved,) = report.analysis["metrics"]
    assert sum(v["n"] for v in resolved["variants"]) == 50_000


def test_drops_are_counted_returned_and_reported_to_the_server(
    live: str, keys: dict[str, str], vault: Vault
) -> None:
    _experiment(vault)
    # Nothing listens on this port: every send fails and is kept for a retry.
    down = f"http://127.0.0.1:{_free_port()}"
    pv = PromptVaultClient(
        down, keys["runtime"], timeout=5, event_buffer=10, event_block_timeout=0.01
    )
    results = [pv.record_exposure("tone", f"u{i}") for i in range(15)]
    dropped = results.count(False)
    assert dropped == 5 and pv.dropped == 5  # a batch being sent still holds its room
    waiting = pv.flush()
    assert (waiting.sent, waiting.lost, waiting.waiting) == (0, dropped, 15 - dropped)
    # The same queue pointed at the server again (as when it comes back).
    pv._http.base_url = httpx.URL(live)
    result = pv.flush()
    assert (result.sent, result.lost, result.waiting) == (15 - dropped, 0, 0)
    metrics = httpx.get(f"{live}/metrics", timeout=30).text
    assert f"promptvault_sdk_events_dropped_total {dropped}" in metrics.splitlines()
    pv.close()


def test_a_body_over_the_limit_keeps_its_code_through_the_sdk(
    app: FastAPI, keys: dict[str, str], vault: Vault
) -> None:
    limit = app.state.settings.max_body_bytes

    async def scenario() -> None:
        async with AsyncPromptVaultClient(
            BASE, keys["editor"], transport=httpx.ASGITransport(app=app), timeout=60
        ) as pv:
            with pytest.raises(PayloadTooLargeError) as caught:
                await pv.push("big", template="x" * (limit + 1))
            assert caught.value.code == "payload_too_large"
            assert caught.value.details == {"field": "body", "limit": limit}

    asyncio.run(scenario())
    assert vault.list_prompts() == []  # nothing half-written


@pytest.mark.parametrize(
    ("syntax", "template"),
    [
        ("mustache", "Hi {{name}}"),
        ("jinja", "Hi {{ name }}"),
        ("mustache", [{"role": "user", "content": "Hi {{#name}}{{.}}{{/name}}"}]),
    ],
)
def test_an_integer_too_long_to_print_is_bad_input_everywhere(
    app: FastAPI, keys: dict[str, str], vault: Vault, syntax: str, template: Any
) -> None:
    # str() refuses integers of more than 4,300 digits with a bare ValueError.
    vault.push("greet", template=template, syntax=syntax)
    huge = {"name": [1, 10**5000]}
    calls: list[Any] = [
        lambda: vault.render("greet", huge),
        lambda: vault.build("greet", huge),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError) as caught:
            call()
        assert caught.value.details == {"field": "variables.name.1", "reason": "integer_too_long"}

    async def scenario() -> None:
        async with AsyncPromptVaultClient(
            BASE, keys["runtime"], transport=httpx.ASGITransport(app=app), timeout=60
        ) as pv:
            for call in (pv.render, pv.build):
                with pytest.raises(InvalidInputError) as caught:
                    await call("greet", huge)
                assert caught.value.details["field"] == "variables.name.1"

    asyncio.run(scenario())
