"""``pv.build``: local selection from a fetched collection copy, server build as fallback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.client import AsyncPromptVaultClient, PromptVaultClient
from promptvault.config import Settings
from promptvault.errors import CollectionNotFound, MissingVariablesError
from promptvault.server.app import create_app

from .fakes import FakeClock

CLOCK = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
VARS = {"company": "Acme", "question": "I want a refund"}
ROWS = [
    {"input": "How do I get a refund?", "output": "Refunds take 5 days."},
    {"input": "Where is my parcel?", "output": "Track it online."},
    {"input": "I forgot my password", "output": "Use the reset link."},
]


class Counting(httpx.BaseTransport):
    """Forwards to the app in process (through a TestClient) and records every request."""

    def __init__(self, app_client: TestClient) -> None:
        self.app_client = app_client
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(f"{request.method} {request.url.path}")
        headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
        answer = self.app_client.request(
            request.method,
            request.url.raw_path.decode(),
            headers=headers,
            content=request.read(),
        )
        kept = {k: v for k, v in answer.headers.items() if k != "content-encoding"}
        return httpx.Response(answer.status_code, headers=kept, content=answer.content)


@pytest.fixture
def setup(database_url: str) -> Iterator[tuple[Vault, PromptVaultClient, Counting, FakeClock]]:
    vault = Vault(Settings(database_url=database_url))
    vault.push(
        "support",
        template=[
            {"role": "system", "content": "Help {{company}}."},
            {"role": "user", "content": "{{question}}"},
        ],
        config={"model": "gpt-4o", "temperature": 0.3},
    )
    vault.examples.create("faq", prompt="support", query_template="{{question}}", k=2)
    vault.examples.add_many("faq", ROWS)
    app = create_app(vault)
    key = app.state.keys.create("app", "runtime", actor="setup")[0]
    clock = FakeClock()
    with TestClient(app) as tc:
        transport = Counting(tc)
        pv = PromptVaultClient(
            "http://testserver",
            api_key=key,
            transport=transport,
            clock=clock,
            cache_ttl=60,
            timeout=60,
        )
        yield vault, pv, transport, clock
        pv.close()
    vault.close()


def _calls(t: Counting) -> list[str]:
    return list(t.paths)


def test_local_build_matches_the_server_and_makes_no_call_when_warm(setup: Any) -> None:
    vault, pv, transport, clock = setup
    spec = {"collection": "faq", "k": 2, "query": "{{question}}"}
    local = pv.build("support", VARS, examples=spec, now=CLOCK)
    server = vault.build("support", VARS, examples=spec, now=CLOCK)
    assert local.messages == server.messages
    assert local.metadata.example_ids == server.metadata.example_ids
    assert local.to_openai() == server.to_openai()
    assert _calls(transport) == [
        "GET /v1/prompts/support/resolve",
        "GET /v1/collections/faq/vectors",
    ]
    before = len(transport.paths)
    for question in ("refund?", "parcel?", "password?"):
        pv.build("support", {**VARS, "question": question}, examples=spec)
    assert len(transport.paths) == before  # warm: no network call at all
    assert pv._builds.remote_builds == 0
    # after the TTL the copy is refreshed in the background (304 while unchanged)
    vault.examples.add("faq", "Refund of shipping costs", "We refund shipping too.")
    clock.advance(61)
    pv.build("support", VARS, examples=spec)
    for thread in list(__import__("threading").enumerate()):
        if thread.name.startswith("promptvault-collection"):
            thread.join(5)
    assert pv._builds.snapshots["faq"].index.n == 4


def test_fallbacks_to_the_server_build(setup: Any) -> None:
    _vault, pv, transport, _clock = setup
    attached = pv.build("support", VARS, examples={})  # the server knows the attached one
    assert attached.metadata.collection == "faq" and attached.metadata.examples_used == 2
    assert "POST /v1/prompts/support/build" in transport.paths
    assert attached.metadata.label == "production"
    with pytest.raises(CollectionNotFound):
        pv.build("support", VARS, examples={"collection": "nope", "query": "{{question}}"})
    with pytest.raises(MissingVariablesError):
        pv.build("support", {"company": "Acme"}, examples={"collection": "faq"})
    plain = pv.build("support", VARS)
    assert plain.metadata.examples_reason == "no examples requested"
    assert plain.params == {"temperature": 0.3}


def test_async_client_builds_like_the_vault(setup: Any) -> None:
    vault = setup[0]
    app = create_app(vault)
    key = app.state.keys.create("async-app", "runtime", actor="setup")[0]
    spec = {"collection": "faq", "k": 2, "query": "{{question}}"}

    async def scenario() -> tuple[Any, Any]:
        transport = httpx.ASGITransport(app=app)
        async with AsyncPromptVaultClient(
            "http://testserver", key, transport=transport, timeout=60
        ) as pv:
            plain = await pv.build("support@production", VARS, now=CLOCK)
            with_examples = await pv.build("support", VARS, examples=spec, now=CLOCK)
            return plain, with_examples

    plain, with_examples = asyncio.run(scenario())
    assert plain.to_dict()["messages"] == vault.build("support", VARS, now=CLOCK).messages
    expected = vault.build("support", VARS, examples=spec, now=CLOCK)
    assert with_examples.messages == expected.messages
    assert with_examples.metadata.example_ids == expected.metadata.example_ids
    assert with_examples.metadata.label == "production"
