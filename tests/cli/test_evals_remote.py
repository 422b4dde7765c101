"""``promptvault datasets`` and ``promptvault eval`` give the same answers on a local
database and through a server (remote mode goes through the SDK's ``client.evals``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from evals.model_stub import ModelStub
from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app

GREET = """
template: "Hello {{name}}"
config:
  model: m
"""
VOLATILE = {"created_at", "updated_at", "finished_at", "created_by", "updated_by"}
VOLATILE |= {"latency_ms", "latency_ms_p50", "latency_ms_p95", "id", "run_a", "run_b"}


@pytest.fixture
def stub() -> Iterator[ModelStub]:
    with ModelStub() as server:
        yield server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    vault = Vault(Settings(database_url=f"sqlite:///{tmp_path / 'server.db'}"))
    app = create_app(vault)
    key = app.state.keys.create("ci-key", "admin", actor="setup")[0]
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
        vault.close()


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _session(
    cli: Callable[..., Any], write: Callable[[str, str], Path], stub_url: str
) -> list[Any]:
    """Every dataset and eval command once; their JSON answers (and exit codes)."""
    write("prompts/greet.yaml", GREET)
    assert cli("push").exit_code == 0
    write("prompts/greet.yaml", GREET.replace("Hello", "Hi"))
    assert cli("push", "-l", "staging").exit_code == 0
    set_provider = cli("eval", "providers", "set", "stub", "--base-url", stub_url)
    assert set_provider.exit_code == 0, set_provider.stderr
    cases = write(
        "cases.jsonl",
        '{"key": "ada", "variables": {"name": "Ada"}, "expected": "Hello Ada"}\n'
        '{"key": "bob", "variables": {"name": "Bob"}, "expected": "Hello Bob"}\n',
    )
    bad = write("bad.jsonl", '{"key": "k1", "variables": {"name": "Cy"}}\n{"variables": 3}\n')
    answers: list[Any] = []

    def json_of(*args: str, code: int = 0) -> Any:
        result = cli(*args, "--json")
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        return json.loads(result.stdout)

    answers.append(json_of("datasets", "create", "qa", "--evaluators", '[{"type": "exact"}]'))
    answers.append(json_of("datasets", "import", "qa", str(cases)))
    refused = cli("datasets", "import", "qa", str(bad))
    answers.append([refused.exit_code, refused.stderr.splitlines()[0]])
    answers.append(json_of("datasets", "import", "qa", str(bad), "--partial", code=1))
    answers.append(json_of("datasets", "add", "qa", "-V", '{"name": "Dee"}', "-k", "dee"))
    answers.append(json_of("datasets", "edit", "qa", "dee", "-e", "Hello Dee"))
    answers.append(json_of("datasets", "remove", "qa", "k1"))
    answers.append(json_of("datasets", "show", "qa"))
    answers.append(json_of("datasets", "show", "qa", "--version", "2"))
    answers.append(json_of("datasets", "list"))
    answers.append(cli("datasets", "export", "qa", "--format", "csv").stdout)
    ran = json_of("eval", "run", "qa", "-p", "greet@production", "-p", "greet@staging")
    answers.append(ran)
    first, second = (r["id"] for r in ran["runs"])
    answers.append(json_of("eval", "show", first))
    shown = cli("eval", "show", second, "--failures")
    answers.append([line.split() for line in shown.stdout.splitlines()[1:]])
    answers.append(json_of("eval", "compare", first, second))
    answers.append(json_of("eval", "list", "--dataset", "qa"))
    failing = cli("eval", "run", "qa", "-p", "greet@staging", "--fail-under", "exact=0.9")
    answers.append(failing.exit_code)
    missing = cli("eval", "show", "0123456789abcdef")
    answers.append([missing.exit_code, missing.stderr])
    return _scrub(answers)


def test_dataset_and_eval_commands_locally_and_through_a_server(
    cli: Any,
    write: Any,
    server: tuple[str, str],
    stub: ModelStub,
    monkeypatch: pytest.MonkeyPatch,
    home: Path,
) -> None:
    local = _session(cli, write, stub.url)
    assert local[0]["name"] == "qa" and local[2][0] == 1
    url, key = server
    monkeypatch.setenv("PROMPTVAULT_URL", url)
    monkeypatch.setenv("PROMPTVAULT_API_KEY", key)
    # A fresh project folder for the server's session (the same files are written again).
    project = home.parent / "project"
    for child in sorted(project.rglob("*"), reverse=True):
        child.unlink() if child.is_file() else child.rmdir()
    remote = _session(cli, write, stub.url)
    assert remote == local
