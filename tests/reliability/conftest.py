"""Helpers for the reliability suites: real ``promptvault`` processes on loopback ports.

The suites start ``promptvault serve`` (and CLI commands) as subprocesses so that SIGKILL
hits a real process at an arbitrary moment, exactly as a crash or an OOM kill would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

POSTGRES_URL = os.environ.get(
    "PROMPTVAULT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _admin_dsn() -> str:
    return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str) -> list[str]:
    """The argv of a ``promptvault`` command run by this interpreter."""
    return [sys.executable, "-m", "promptvault", *args]


class Server:
    """One ``promptvault serve`` process on a loopback port, restartable after a kill."""

    def __init__(self, home: Path, database_url: str, *extra: str) -> None:
        self.home = home
        self.database_url = database_url
        self.extra = extra
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = home / "serve.log"

    def start(self) -> None:
        env = {**os.environ, "PROMPTVAULT_HOME": str(self.home)}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    *cli("serve"),
                    "--port",
                    str(self.port),
                    "--db",
                    self.database_url,
                    "--log-level",
                    "warning",
                    *self.extra,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError("server did not become ready")

    @property
    def key(self) -> str:
        return (self.home / "admin.key").read_text().strip()

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, open transactions are cut where they are."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def make_server(home: Path) -> Iterator[object]:
    """``make_server(database_url, *extra)`` -> a started :class:`Server`, stopped at the end."""
    servers: list[Server] = []

    def make(database_url: str, *extra: str) -> Server:
        server = Server(home, database_url, *extra)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.kill()


class FreshDatabases:
    """Extra empty databases of the same kind as a test's ``database_url``."""

    def __init__(self, tmp_path: Path, kind_url: str) -> None:
        self.tmp_path = tmp_path
        self.postgres = kind_url.startswith("postgresql")
        self.created: list[str] = []

    def new(self) -> str:
        name = f"pv_test_{uuid.uuid4().hex[:12]}"
        if not self.postgres:
            return f"sqlite:///{self.tmp_path / (name + '.db')}"
        import psycopg

        with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return f"{POSTGRES_URL.rpartition('/')[0]}/{name}"

    def drop_all(self) -> None:
        if not self.created:
            return
        import psycopg

        with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_databases(tmp_path: Path, database_url: str) -> Iterator[FreshDatabases]:
    dbs = FreshDatabases(tmp_path, database_url)
    yield dbs
    dbs.drop_all()
