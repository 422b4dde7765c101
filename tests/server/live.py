"""A real ``promptvault serve`` subprocess on a free loopback port, for tests that need one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class LiveServer:
    base: str
    host: str
    port: int
    home: Path
    proc: subprocess.Popen[str]

    @property
    def admin_key(self) -> str:
        return (self.home / "admin.key").read_text().strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_ready(base: str, proc: subprocess.Popen[str], *, deadline: float = 60) -> None:
    """Poll ``/readyz`` until it answers 200 (fails if the process exits first)."""
    until = time.monotonic() + deadline
    while True:
        if proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"server exited: {output}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < until, "server did not become ready"
        time.sleep(0.1)


@contextmanager
def live_server(home: Path, *args: str, log: Path | None = None) -> Iterator[LiveServer]:
    """``promptvault serve ARGS`` on a fresh SQLite database in ``home``; stopped after."""
    db = f"sqlite:///{home / 'live.db'}"
    env = {**os.environ, "PROMPTVAULT_HOME": str(home), "PROMPTVAULT_DATABASE_URL": db}
    for var in ("PROMPTVAULT_URL", "PROMPTVAULT_API_KEY"):
        env.pop(var, None)
    port = free_port()
    cmd = [sys.executable, "-m", "promptvault", "serve", "--port", str(port), "--db", db]
    out = log.open("w") if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen([*cmd, *args], env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, proc)
        yield LiveServer(base, "127.0.0.1", port, home, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log is not None and hasattr(out, "close"):
            out.close()
