"""``client.evals``: one dataset and eval flow through the library, the sync SDK and the async
SDK (each against a real server on a loopback port), with the same answers."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from evals.model_stub import ModelStub
from promptvault import Vault
from promptvault.client import AsyncPromptVaultClient, PromptVaultClient
from promptvault.config import Settings
from promptvault.errors import DatasetNotFound, InvalidInputError, PromptVaultError
from promptvault.server.app import create_app

# Fields that differ between two databases for the same flow: times, who, run ids, speed.
VOLATILE = {
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "finished_at",
    "latency_ms",
    "latency_ms_p50",
    "latency_ms_p95",
}

JSONL = (
    '{"key": "i1", "variables": {"name": "Imported"}, "expected": "Hello Imported"}\n'
    '{"key": "i2", "variables": {"name": "Other"}, "expected": "Nope"}\n'
)
BAD_JSONL = '{"key": "b1", "variables": {"name": "x"}}\n{"key": "b2", "variables": 3}\n'


def _vault(path: Path, stub: ModelStub) -> Vault:
    vault = Vault(Settings(database_url=f"sqlite:///{path}"))
    vault.push(
        "greet", template=[{"role": "user", "content": "Hello {{name}}"}], config={"model": "m"}
    )
    vault.push(
        "greet", template=[{"role": "user", "content": "Hi {{name}}"}], config={"model": "m"}
    )
    vault.set_label("greet", "staging", 2)
    vault.evals.set_provider("stub", kind="openai", base_url=stub.url)
    return vault


@contextmanager
def _server(vault: Vault, key_name: str = "sdk-key") -> Iterator[tuple[str, str]]:
    app = create_app(vault)
    key = app.state.keys.create(key_name, "admin", actor="setup")[0]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", key
    finally:
        srv.should_exit = True
        thread.join(10)


def _scrub(value: Any, ids: dict[str, str]) -> Any:
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _scrub(v, ids) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, ids) for v in value]
    if isinstance(value, str) and value in ids:
        return ids[value]
    return value


async def _flow(evals: Any) -> list[Any]:
    """Every dataset and eval operation once; answers with run ids replaced by names."""
    answers: list[Any] = []
    ids: dict[str, str] = {}

    async def do(name: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(evals, name)(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def expect_error(name: str, *args: Any, **kwargs: Any) -> None:
        with pytest.raises(PromptVaultError) as caught:
            await do(name, *args, **kwargs)
        error = caught.value
        answers.append([type(error).__name__, error.code, error.details.get("field")])

    answers.append(
        await do(
            "create_dataset",
            "qa",
            description="greetings",
            evaluators=[{"type": "exact"}],
            cases=[
                {"key": "ada", "variables": {"name": "Ada"}, "expected": "Hello Ada"},
                {"key": "bob", "variables": {"name": "Bob"}, "expected": "Hello Bob"},
            ],
            actor="someone",
        )
    )
    answers.append(
        await do(
            "add_cases",
            "qa",
            [{"key": "cy", "variables": {"name": "Cy"}, "expected": "Hello Cy", "tags": ["x"]}],
        )
    )
    answers.append(
        await do("edit_case", "qa", "bob", {"variables": {"name": "Bo"}, "expected": "Hello Bo"})
    )
    answers.append(await do("delete_cases", "qa", ["cy"]))
    await expect_error("delete_cases", "qa", ["ada", "nope"])  # all or nothing: ada stays
    await expect_error("delete_cases", "qa", [])  # no empty version
    scratch = [{"key": k, "variables": {"name": k}} for k in ("t1", "t2")]
    added = await do("add_cases", "qa", scratch)
    removed = await do("delete_cases", "qa", ["t1", "t2"])
    assert (removed.removed, removed.version) == (2, added.version + 1)  # one version
    answers.extend([added, removed])
    answers.append(await do("import_cases", "qa", JSONL))
    await expect_error("import_cases", "qa", BAD_JSONL)
    answers.append(await do("import_cases", "qa", BAD_JSONL, partial=True))
    answers.append(await do("update_dataset", "qa", description="greetings, edited"))
    answers.append(await do("export_cases", "qa", fmt="jsonl"))
    answers.append(await do("export_cases", "qa", fmt="csv", version=2))
    answers.append(await do("cases", "qa", version=3))
    answers.append(await do("dataset", "qa"))
    answers.append(await do("datasets"))
    await expect_error("dataset", "nope")
    await expect_error("add_cases", "qa", [{"key": "ada", "variables": {"name": "Zed"}}])

    first = await do("run", "qa", "greet@production", provider="stub", concurrency=2)
    second = await do("run", "qa", "greet@staging", provider="stub")
    ids.update({first.id: "run-1", second.id: "run-2"})
    answers.extend([first, second])
    answers.append(await do("get_run", first.id))
    answers.append(await do("runs", dataset="qa"))
    answers.append(await do("compare", first.id, second.id))
    await expect_error("run", "qa", "greet@nolabel", provider="stub")
    await expect_error("get_run", "0123456789abcdef")
    answers.append(await do("gates"))
    return _scrub(answers, ids)


@pytest.fixture
def stub() -> Iterator[ModelStub]:
    with ModelStub() as server:
        yield server


def test_the_same_flow_through_the_library_and_both_sdks(tmp_path: Path, stub: ModelStub) -> None:
    local = _vault(tmp_path / "local.db", stub)
    expected = asyncio.run(_flow(local.evals))
    local.close()
    assert expected[0]["cases"] == 2 and expected[-1] == []

    remote = _vault(tmp_path / "sync.db", stub)
    with _server(remote) as (url, key), PromptVaultClient(url, key, cache_ttl=0, timeout=30) as pv:
        assert asyncio.run(_flow(pv.evals)) == expected
        # The server named the API key as the actor of every change.
        assert pv.evals.dataset("qa").updated_by == "sdk-key"
    remote.close()

    other = _vault(tmp_path / "async.db", stub)

    async def through_async(url: str, key: str) -> list[Any]:
        async with AsyncPromptVaultClient(url, key, cache_ttl=0, timeout=30) as apv:
            return await _flow(apv.evals)

    with _server(other) as (url, key):
        assert asyncio.run(through_async(url, key)) == expected
    other.close()


def test_start_wait_and_resume_through_the_sdk(tmp_path: Path, stub: ModelStub) -> None:
    vault = _vault(tmp_path / "v.db", stub)
    vault.evals.create_dataset(
        "qa", cases=[{"key": f"c{i}", "variables": {"name": str(i)}} for i in range(6)]
    )
    stub.hang_after(stub.served + 2)
    with _server(vault) as (url, key), PromptVaultClient(url, key, cache_ttl=0, timeout=30) as pv:
        started = pv.evals.start_run("qa", "greet@production", provider="stub", concurrency=1)
        assert started.status == "running" and started.total == 6
        seen: list[tuple[int, int]] = []

        def two_done() -> bool:
            found = pv.evals.get_run(started.id, results=False)
            assert found.progress is not None
            return found.progress.done == 2

        from waiting import wait_until

        wait_until(two_done, what="two cases done")
        with pytest.raises(PromptVaultError) as early:
            pv.evals.wait_run(started.id, timeout=0.0)
        assert early.value.details["field"] == "timeout"
    # The server stopped: the run is interrupted and resumes through another server.
    assert vault.evals.get_run(started.id).status == "interrupted"
    stub.hang_after(None)
    with (
        _server(vault, "again") as (url, key),
        PromptVaultClient(url, key, cache_ttl=0, timeout=30) as pv,
    ):
        done = pv.evals.run(
            "qa", resume=started.id, progress=lambda d, t: seen.append((d, t)), poll_interval=0.05
        )
    assert done.status == "finished" and done.progress is not None and done.progress.done == 6
    assert seen[-1] == (6, 6)
    assert [r.key for r in done.results or []] == [f"c{i}" for i in range(6)]
    vault.close()


def test_sdk_file_import_export_and_errors(tmp_path: Path, stub: ModelStub) -> None:
    vault = _vault(tmp_path / "v.db", stub)
    csv_file = tmp_path / "cases.csv"
    csv_file.write_text("key,name,expected\nk1,Ada,Hello Ada\n", encoding="utf-8")
    with _server(vault) as (url, key), PromptVaultClient(url, key, cache_ttl=0, timeout=30) as pv:
        change = pv.evals.import_cases("fromfile", csv_file)
        assert (change.dataset, change.added) == ("fromfile", 1)
        out = tmp_path / "out.jsonl"
        text = pv.evals.export_cases("fromfile", out)
        assert out.read_text(encoding="utf-8") == text == vault.evals.export_cases("fromfile")
        with pytest.raises(DatasetNotFound):
            pv.evals.cases("missing")
        with pytest.raises(InvalidInputError):
            pv.evals.delete_cases("fromfile", [])
    vault.close()
