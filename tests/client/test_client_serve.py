"""A real ``promptvault serve`` process: the SDK uses it, then it is SIGKILLed mid-flight."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from promptvault.client import PromptVaultClient
from promptvault.errors import PromptUnavailable

from .fakes import FakeClock


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(home: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PROMPTVAULT_HOME": str(home)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "promptvault",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_ready(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become ready")


@pytest.mark.slow
def test_app_keeps_rendering_after_the_server_is_killed(home: Path, tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(home, port, "--demo")
    try:
        _wait_ready(base, proc)
        key_file = home / "admin.key"
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        key = key_file.read_text().strip()
        clock = FakeClock()
        pv = PromptVaultClient(
            base, key, cache_ttl=1, timeout=30, fallback_dir=str(tmp_path), clock=clock
        )
        variables = {
            "company_name": "Acme",
            "customer_name": "Ada",
            "tier": {"free": False, "pro": True, "enterprise": False},
            "question": "Where is my order?",
        }
        before = pv.render("customer_support", variables)
        assert "Acme" in before and "Where is my order?" in before
    finally:
        proc.send_signal(signal.SIGKILL)
        output = proc.communicate(timeout=10)[0]
    # Not a terminal: the first start names the 0600 file holding the key, never the key.
    assert str(home / "admin.key") in output and key not in output
    clock.advance(2)  # the label pointer is now stale: its refresh will find nobody
    assert pv.render("customer_support", variables) == before
    pv.wait_idle(5)
    assert pv.render("customer_support", variables) == before
    pv.close()

    restarted = PromptVaultClient(base, key, timeout=5, fallback_dir=str(tmp_path), retries=0)
    assert restarted.render("customer_support", variables) == before  # from disk
    with pytest.raises(PromptUnavailable):
        restarted.get("never_fetched")


@pytest.mark.slow
def test_sigterm_shuts_down_gracefully(home: Path) -> None:
    port = _free_port()
    proc = _start(home, port, "--log-level", "info")
    try:
        _wait_ready(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=20)[0]
    # uvicorn drains connections, runs the app's shutdown, then re-raises the signal so the
    # exit status says "terminated by SIGTERM" as supervisors expect.
    assert "Waiting for application shutdown." in output
    assert "Application shutdown complete." in output
    assert proc.returncode in (0, -signal.SIGTERM)


FRESH_BUILD = """
import json, sys
from datetime import datetime, timezone
from promptvault.client import PromptVaultClient
from promptvault.errors import PromptUnavailable

base, key, fallback_dir, variables = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
pv = PromptVaultClient(base, key, timeout=5, retries=0, fallback_dir=fallback_dir)
out = {}
for name, examples in (("with_examples", "support_examples"), ("plain", None)):
    built = pv.build("customer_support", variables, examples=examples, now=now)
    out[name] = built.to_dict()
try:
    pv.build("customer_support", variables, examples="never_fetched", now=now)
except PromptUnavailable as exc:
    out["never_fetched"] = exc.code
out["remote_builds"] = pv._builds.remote_builds
print(json.dumps(out))
"""


def _comparable(built: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in built["metadata"].items() if k != "render_us"}
    return {**built, "metadata": meta}


@pytest.mark.slow
def test_build_in_a_fresh_process_falls_back_to_disk(home: Path, tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    variables = {"company_name": "Acme", "question": "How do I get a refund?"}
    proc = _start(home, port, "--demo")
    try:
        _wait_ready(base, proc)
        key = (home / "admin.key").read_text().strip()
        with PromptVaultClient(base, key, timeout=30, fallback_dir=str(tmp_path)) as pv:
            expected = {
                "with_examples": pv.build(
                    "customer_support", variables, examples="support_examples", now=now
                ).to_dict(),
                "plain": pv.build("customer_support", variables, now=now).to_dict(),
            }
            assert pv._builds.remote_builds == 0  # selected here, from the fetched copy
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    assert expected["with_examples"]["metadata"]["examples_used"] > 0

    env = {**os.environ, "PROMPTVAULT_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-c", FRESH_BUILD, base, key, str(tmp_path), json.dumps(variables)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    fresh = json.loads(done.stdout)
    for name in ("with_examples", "plain"):
        assert _comparable(fresh[name]) == _comparable(expected[name])
    assert fresh["never_fetched"] == "unavailable"
    assert fresh["remote_builds"] == 1  # only the collection it never had asked the server
