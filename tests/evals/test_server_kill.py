"""A server SIGKILLed in the middle of a background run: after a restart the run reads as
interrupted (its lease ran out with nobody to renew it), and a resume completes it without
calling the model twice for any case."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from promptvault import Vault
from server.live import free_port, wait_until_ready
from waiting import wait_until

from .conftest import SECRET
from .model_stub import ModelStub


class Serve:
    """``promptvault serve`` on one loopback port and database, started again at will."""

    def __init__(self, vault: Vault, home: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.home = home
        self.url = vault.settings.resolved_database_url()
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "PROMPTVAULT_HOME": str(self.home),
            "PROMPTVAULT_SECRET_KEY": SECRET,
            "PROMPTVAULT_EVAL_LEASE": "1",
        }
        with (self.home / "serve.log").open("a") as log:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "promptvault", "serve"),
                    *("--port", str(self.port), "--db", self.url, "--log-level", "warning"),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        wait_until_ready(self.base, self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        key = (self.home / "admin.key").read_text().strip()
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs)


@pytest.fixture
def serve(vault: Vault, home: Path) -> Iterator[Serve]:
    server = Serve(vault, home)
    yield server
    server.kill()


def test_killed_server_leaves_an_interrupted_run_that_resumes(
    vault: Vault, stub: ModelStub, serve: Serve
) -> None:
    stub.hang_after(5)  # five answers, then the model goes quiet
    serve.start()
    started = serve.call(
        "POST", "/v1/evals/runs", json={"dataset": "d", "prompt": "qa", "concurrency": 2}
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]

    def progress() -> dict[str, Any]:
        body = serve.call("GET", f"/v1/evals/runs/{run_id}", params={"results": False})
        return dict(body.json())

    wait_until(lambda: progress()["progress"]["done"] == 5, what="five committed results")
    assert progress()["status"] == "running"  # its server renews the lease while it waits

    serve.kill()
    stub.hang_after(None)
    serve.start()
    wait_until(lambda: progress()["status"] == "interrupted", what="the run interrupted")
    assert progress()["progress"]["done"] == 5

    resumed = serve.call("POST", "/v1/evals/runs", json={"dataset": "d", "resume": run_id})
    assert resumed.status_code == 202, resumed.text
    wait_until(lambda: progress()["status"] == "finished", what="the resumed run finished")

    run = vault.evals.get_run(run_id)
    assert run.summary is not None and (run.summary.finished, run.summary.errors) == (12, 0)
    assert sorted(r.key for r in run.results or []) == [f"c{i:02d}" for i in range(12)]
    # the model answered each case once: five before the kill, seven after the resume
    assert stub.served == 12
    entries = [e for e in vault.audit.entries() if e.details.get("run") == run_id]
    assert [e.action for e in entries] == ["eval.run", "eval.resume", "eval.finish"]
    assert entries[1].details["was"] == "interrupted" and entries[1].details["pending"] == 7
