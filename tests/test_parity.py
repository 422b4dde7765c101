"""Same call, same answer: every case of ``parity_table`` through every face of promptvault.

Faces: the library (``Vault.render``), the HTTP server in process (``POST .../render`` over
``httpx.ASGITransport``), the sync SDK and the async SDK (both on the same in-process app);
and for builds ``vault.build``, ``POST .../build`` and ``pv.build``.
Each face's answer is reduced to an :class:`Outcome` (the output, or the error class, code,
field and missing names) and must equal the expected one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from parity_table import CASES, PROMPTS, STORE_STEPS, Case, Contains, Raises, Step
from promptvault import Vault
from promptvault.builder import BuiltRequest
from promptvault.client import AsyncPromptVaultClient, PromptVaultClient
from promptvault.config import Settings
from promptvault.entities import (
    AuditEntry,
    AuditReport,
    LabelEvent,
    PromptDiff,
    PromptSummary,
    PromptVersion,
    PushResult,
)
from promptvault.errors import MissingVariablesError, PromptVaultError, error_from_payload
from promptvault.server.app import create_app
from promptvault.store import AsyncPromptStore, PromptStore

BASE = "http://promptvault.test"


class Outcome(NamedTuple):
    """What a face gave: ("ok", output) or ("error", class, code, field, missing names)."""

    kind: str
    value: Any


def _error(exc: PromptVaultError) -> Outcome:
    names = tuple(exc.names) if isinstance(exc, MissingVariablesError) else None
    return Outcome("error", (type(exc).__name__, exc.code, exc.details.get("field"), names))


def _run(call: Callable[[], Any]) -> Outcome:
    try:
        return Outcome("ok", call())
    except PromptVaultError as exc:
        return _error(exc)


def _split(ref: str) -> tuple[str, str | None, int | None]:
    name, sep, tail = ref.rpartition("@")
    if not sep:
        return ref, None, None
    return (name, None, int(tail)) if tail.isdigit() else (name, tail, None)


class SyncASGITransport(httpx.BaseTransport):
    """The in-process app for the sync SDK: each request goes through Starlette's TestClient."""

    def __init__(self, app: FastAPI) -> None:
        self.client = TestClient(app, base_url=BASE)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.client.request(
            request.method, str(request.url), headers=request.headers, content=request.read()
        )
        # The body arrives decoded: drop the headers that describe the encoded form.
        headers = [
            (k, v)
            for k, v in answer.headers.multi_items()
            if k.lower() not in {"content-encoding", "content-length", "transfer-encoding"}
        ]
        return httpx.Response(answer.status_code, headers=headers, content=answer.content)

    def close(self) -> None:
        self.client.close()


class World(NamedTuple):
    vault: Vault
    app: FastAPI
    key: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("parity")
    vault = Vault(Settings(home=root, database_url=f"sqlite:///{root / 'vault.db'}"))
    for name, kwargs in PROMPTS:
        vault.push(name, **kwargs)
    app = create_app(vault)
    key = app.state.keys.create("parity", "runtime", actor="setup")[0]
    yield World(vault, app, key)
    vault.close()


def via_vault(world: World, case: Case) -> Outcome:
    return _run(
        lambda: world.vault.render(
            case.ref, case.variables, placeholders=case.placeholders, strict=case.strict
        )
    )


def via_server(world: World, case: Case) -> Outcome:
    name, label, version = _split(case.ref)
    body: dict[str, Any] = {"variables": case.variables or {}, "strict": case.strict}
    if label is not None:
        body["label"] = label
    if version is not None:
        body["version"] = version
    if case.placeholders is not None:
        body["placeholders"] = case.placeholders

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=world.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            return await http.post(
                f"/v1/prompts/{name}/render",
                # ASCII-escaped JSON, so that a lone surrogate reaches the server as JSON does.
                content=json.dumps(body).encode(),
                headers={
                    "Authorization": f"Bearer {world.key}",
                    "Content-Type": "application/json",
                },
            )

    answer = asyncio.run(call())
    if answer.status_code == 200:
        return Outcome("ok", answer.json()["output"])
    return _error(error_from_payload(answer.json()))


def via_sync_sdk(world: World, case: Case) -> Outcome:
    transport = SyncASGITransport(world.app)
    with PromptVaultClient(BASE, world.key, transport=transport, timeout=60) as pv:
        # Twice: the first call fetches and compiles, the second takes the warm path.
        first = _run(lambda: pv.render(case.ref, case.variables, **_options(case)))
        second = _run(lambda: pv.render(case.ref, case.variables, **_options(case)))
    assert first == second
    return first


def via_async_sdk(world: World, case: Case) -> Outcome:
    async def scenario() -> tuple[Outcome, Outcome]:
        transport = httpx.ASGITransport(app=world.app)
        async with AsyncPromptVaultClient(BASE, world.key, transport=transport, timeout=60) as pv:
            outcomes = []
            for _ in range(2):
                try:
                    output = await pv.render(case.ref, case.variables, **_options(case))
                    outcomes.append(Outcome("ok", output))
                except PromptVaultError as exc:
                    outcomes.append(_error(exc))
            return outcomes[0], outcomes[1]

    first, second = asyncio.run(scenario())
    assert first == second
    return first


def _options(case: Case) -> dict[str, Any]:
    return {"placeholders": case.placeholders, "strict": case.strict}


FACES = {
    "vault": via_vault,
    "server": via_server,
    "sync-sdk": via_sync_sdk,
    "async-sdk": via_async_sdk,
}


def check_expected(case: Case, outcome: Outcome) -> None:
    """The outcome is what the table says."""
    expect = case.expect
    if isinstance(expect, Raises):
        assert outcome.kind == "error", f"expected {expect.error.__name__}, got {outcome.value!r}"
        cls, code, field, names = outcome.value
        assert (cls, code) == (expect.error.__name__, expect.error.code)
        if expect.field is not None:
            assert field == expect.field
        if expect.names is not None:
            assert names == expect.names
        return
    assert outcome.kind == "ok", f"expected an output, got {outcome.value!r}"
    if isinstance(expect, Contains):
        assert isinstance(outcome.value, str)
        for part in expect.parts:
            assert part in outcome.value
        for part in expect.absent:
            assert part not in outcome.value
        return
    assert outcome.value == expect


@pytest.mark.parametrize("face", list(FACES))
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_face_gives_the_tables_answer(world: World, case: Case, face: str) -> None:
    check_expected(case, FACES[face](world, case))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_faces_agree_exactly(world: World, case: Case) -> None:
    outcomes = {face: run(world, case) for face, run in FACES.items()}
    assert len(set(map(repr, outcomes.values()))) == 1, outcomes


def test_the_table_covers_each_kind_of_call() -> None:
    ids = " ".join(c.id for c in CASES)
    for needed in ("chat", "schema default", "missing", "partial", "jinja", "placeholder"):
        assert needed in ids
    assert any(c.ref.endswith("@2") for c in CASES)
    assert any(c.ref.endswith("@staging") for c in CASES)
    assert any(isinstance(c.expect, Raises) and c.id == "unknown prompt" for c in CASES)
    assert Path(__file__).with_name("parity_table.py").is_file()


# --- build: the same table through vault.build, POST .../build and pv.build --------------

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
BUILD_CASES = [c for c in CASES if c.placeholders is None]


def _messages(built: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(m) for m in built["messages"]]


def build_via_vault(world: World, case: Case) -> Outcome:
    return _run(
        lambda: _messages(
            world.vault.build(case.ref, case.variables, now=NOW, strict=case.strict).to_dict()
        )
    )


def build_via_server(world: World, case: Case) -> Outcome:
    name, label, version = _split(case.ref)
    body: dict[str, Any] = {
        "variables": case.variables or {},
        "strict": case.strict,
        "now": NOW.isoformat(),
    }
    if label is not None:
        body["label"] = label
    if version is not None:
        body["version"] = version

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=world.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            return await http.post(
                f"/v1/prompts/{name}/build",
                # ASCII-escaped JSON, so that a lone surrogate reaches the server as JSON does.
                content=json.dumps(body).encode(),
                headers={
                    "Authorization": f"Bearer {world.key}",
                    "Content-Type": "application/json",
                },
            )

    answer = asyncio.run(call())
    if answer.status_code == 200:
        return Outcome("ok", _messages(answer.json()))
    return _error(error_from_payload(answer.json()))


def build_via_sync_sdk(world: World, case: Case) -> Outcome:
    transport = SyncASGITransport(world.app)
    with PromptVaultClient(BASE, world.key, transport=transport, timeout=60) as pv:
        return _run(
            lambda: _messages(
                pv.build(case.ref, case.variables, now=NOW, strict=case.strict).to_dict()
            )
        )


def build_via_async_sdk(world: World, case: Case) -> Outcome:
    async def scenario() -> Outcome:
        transport = httpx.ASGITransport(app=world.app)
        async with AsyncPromptVaultClient(BASE, world.key, transport=transport, timeout=60) as pv:
            try:
                built = await pv.build(case.ref, case.variables, now=NOW, strict=case.strict)
            except PromptVaultError as exc:
                return _error(exc)
            return Outcome("ok", _messages(built.to_dict()))

    return asyncio.run(scenario())


BUILD_FACES = {
    "vault": build_via_vault,
    "server": build_via_server,
    "sync-sdk": build_via_sync_sdk,
    "async-sdk": build_via_async_sdk,
}


def _as_render(case: Case, outcome: Outcome) -> Outcome:
    """A build's messages as ``render`` gives them: a text prompt is one user message."""
    if outcome.kind == "ok" and not isinstance(case.expect, list):
        [message] = outcome.value
        return Outcome("ok", message["content"])
    return outcome


@pytest.mark.parametrize("face", list(BUILD_FACES))
@pytest.mark.parametrize("case", BUILD_CASES, ids=[c.id for c in BUILD_CASES])
def test_build_gives_the_tables_answer(world: World, case: Case, face: str) -> None:
    check_expected(case, _as_render(case, BUILD_FACES[face](world, case)))


# --- the store protocol: the scenario of ``STORE_STEPS`` through Vault and both SDKs -------


def reduce(answer: Any) -> Any:
    """An answer as the plain value the table writes (see ``parity_table.Step``)."""
    if isinstance(answer, list):
        return [reduce(item) for item in answer]
    if isinstance(answer, PushResult):
        return ("pushed", answer.version.version, answer.created)
    if isinstance(answer, PromptVersion):
        return (answer.name, answer.version, answer.template)
    if isinstance(answer, LabelEvent):
        return (
            answer.label,
            answer.from_version,
            answer.to_version,
            answer.action,
            answer.changed,
        )
    if isinstance(answer, PromptSummary):
        return (answer.name, answer.latest_version, answer.labels, answer.archived)
    if isinstance(answer, AuditEntry):
        return (answer.action, answer.target)
    if isinstance(answer, AuditReport):
        return (answer.ok, answer.checked)
    if isinstance(answer, PromptDiff):
        return (answer.a_version, answer.b_version, answer.unified)
    if isinstance(answer, BuiltRequest):
        return _messages(answer.to_dict())
    return answer


def _new_world(root: Path) -> World:
    vault = Vault(Settings(home=root, database_url=f"sqlite:///{root / 'vault.db'}"))
    app = create_app(vault)
    key = app.state.keys.create("parity", "admin", actor="setup")[0]
    return World(vault, app, key)


def _target(store: Any, op: str) -> Any:
    for part in op.split("."):
        store = getattr(store, part)
    return store


def steps_via_vault(root: Path) -> list[Outcome]:
    world = _new_world(root)
    try:
        store: PromptStore = world.vault
        return [
            _run(lambda s=s: reduce(_target(store, s.op)(*s.args, **s.kwargs))) for s in STORE_STEPS
        ]
    finally:
        world.vault.close()


def steps_via_sync_sdk(root: Path) -> list[Outcome]:
    world = _new_world(root)
    try:
        transport = SyncASGITransport(world.app)
        with PromptVaultClient(BASE, world.key, transport=transport, timeout=60) as pv:
            store: PromptStore = pv
            return [
                _run(lambda s=s: reduce(_target(store, s.op)(*s.args, **s.kwargs)))
                for s in STORE_STEPS
            ]
    finally:
        world.vault.close()


def steps_via_async_sdk(root: Path) -> list[Outcome]:
    world = _new_world(root)

    async def scenario() -> list[Outcome]:
        transport = httpx.ASGITransport(app=world.app)
        async with AsyncPromptVaultClient(BASE, world.key, transport=transport, timeout=60) as pv:
            store: AsyncPromptStore = pv
            outcomes = []
            for step in STORE_STEPS:
                try:
                    answer = await _target(store, step.op)(*step.args, **step.kwargs)
                    outcomes.append(Outcome("ok", reduce(answer)))
                except PromptVaultError as exc:
                    outcomes.append(_error(exc))
            return outcomes

    try:
        return asyncio.run(scenario())
    finally:
        world.vault.close()


STORE_FACES = {
    "vault": steps_via_vault,
    "sync-sdk": steps_via_sync_sdk,
    "async-sdk": steps_via_async_sdk,
}


@pytest.fixture(scope="module")
def store_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Outcome]]:
    return {
        face: run(tmp_path_factory.mktemp(f"store-{face}")) for face, run in STORE_FACES.items()
    }


def _step_case(step: Step) -> Case:
    return Case(id=step.id, ref="", expect=step.expect)


@pytest.mark.parametrize("face", list(STORE_FACES))
@pytest.mark.parametrize("index", range(len(STORE_STEPS)), ids=[s.id for s in STORE_STEPS])
def test_every_store_gives_the_steps_answer(
    store_outcomes: dict[str, list[Outcome]], index: int, face: str
) -> None:
    step = STORE_STEPS[index]
    outcome = store_outcomes[face][index]
    if isinstance(step.expect, Raises):
        check_expected(_step_case(step), outcome)
        return
    assert outcome == Outcome("ok", step.expect)


@pytest.mark.parametrize("index", range(len(STORE_STEPS)), ids=[s.id for s in STORE_STEPS])
def test_stores_agree_exactly(store_outcomes: dict[str, list[Outcome]], index: int) -> None:
    answers = {face: outcomes[index] for face, outcomes in store_outcomes.items()}
    assert len(set(map(repr, answers.values()))) == 1, answers
