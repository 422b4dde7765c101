"""Secrets stay private: database file modes, the first admin key and service logs."""

from __future__ import annotations

import os
import pty
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

from tests.server.live import free_port, live_server

from promptvault import Vault
from promptvault.config import Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_database_and_its_wal_files_are_created_private(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual default, which gave 0644
    db = tmp_path / "private" / "vault.db"
    vault = Vault(Settings(database_url=f"sqlite:///{db}"))
    try:
        vault.push("p", template="hi", author="t")
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        assert wal.exists() and shm.exists()  # open connection in WAL mode
        assert _mode(db) == 0o600
        assert _mode(wal) == 0o600
        assert _mode(shm) == 0o600
    finally:
        vault.close()
        os.umask(previous)


def test_serve_prints_the_first_key_only_to_a_terminal(tmp_path: Path) -> None:
    _logs_get_the_path_not_the_key(tmp_path)
    _a_terminal_gets_the_key(tmp_path)


def _logs_get_the_path_not_the_key(tmp_path: Path) -> None:
    home = tmp_path / "home-logs"
    home.mkdir()
    log = tmp_path / "serve.log"
    with live_server(home, log=log) as server:
        key = server.admin_key
        assert key.startswith("pv_")
        assert _mode(home / "admin.key") == 0o600
        assert _mode(home / "live.db") == 0o600
    text = log.read_text()
    assert key not in text
    assert str(home / "admin.key") in text


def _a_terminal_gets_the_key(tmp_path: Path) -> None:
    home = tmp_path / "home-tty"
    home.mkdir()
    env = {**os.environ, "PROMPTVAULT_HOME": str(home)}
    env.pop("PROMPTVAULT_DATABASE_URL", None)
    primary, secondary = pty.openpty()
    cmd = [sys.executable, "-m", "promptvault", "serve", "--port", str(free_port())]
    proc = subprocess.Popen(cmd, env=env, stdin=secondary, stdout=secondary, stderr=secondary)
    os.close(secondary)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"serving on" not in seen:
            assert time.monotonic() < deadline, seen
            ready, _, _ = select.select([primary], [], [], 0.5)
            if ready:
                seen += os.read(primary, 65536)
        key = (home / "admin.key").read_text().strip()
        assert key.encode() in seen
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        os.close(primary)
