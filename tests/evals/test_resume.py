"""A run killed halfway (SIGKILL of the CLI) keeps its committed results, reads as
interrupted once its lease runs out, and resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from promptvault import Vault
from waiting import wait_until

from .conftest import SECRET
from .model_stub import ModelStub


def _results(vault: Vault) -> int:
    runs = vault.evals.runs()
    return len(vault.evals.get_run(runs[0].id).results or []) if runs else 0


def test_killed_run_resumes_where_it_stopped(vault: Vault, stub: ModelStub, tmp_path: Path) -> None:
    stub.hang_after(5)  # five answers, then the model goes quiet
    env = {
        **os.environ,
        "PROMPTVAULT_DATABASE_URL": vault.settings.resolved_database_url(),
        "PROMPTVAULT_SECRET_KEY": SECRET,
        "PROMPTVAULT_EVAL_TIMEOUT": "120",
        "PROMPTVAULT_EVAL_LEASE": "1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "promptvault",
            "eval",
            "run",
            "d",
            "--prompt",
            "qa@production",
            "--concurrency",
            "2",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _results(vault) >= 5, what="five committed results")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # killed: nobody marked it, but its lease runs out without the process to renew it
    wait_until(lambda: vault.evals.runs()[0].status == "interrupted", what="the run interrupted")
    run = vault.evals.runs()[0]
    assert _results(vault) == 5

    stub.hang_after(None)
    before = stub.served
    resumed = vault.evals.run("d", resume=run.id)
    assert stub.served - before == 7  # only the cases without a result
    assert resumed.id == run.id and resumed.status == "finished"
    assert resumed.summary is not None and resumed.summary.finished == 12
    assert sorted(r.key for r in resumed.results or []) == [f"c{i:02d}" for i in range(12)]
