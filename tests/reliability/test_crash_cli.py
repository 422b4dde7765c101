"""SIGKILL ``promptvault pull`` and ``promptvault import`` mid-way: nothing is left half done.

``pull`` writes each file through a temp file and a rename, so after a kill every prompt
file holds either its old bytes or the complete new ones. ``import`` runs in one
transaction, so after a kill the target database holds either nothing or the whole backup.
Each kill lands at a random moment after the command has started writing (its first temp
file, or its transaction's first write), within the time an uninterrupted run writes for;
round k kills in the k-th slice of that time, so few rounds still cover all of it.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptvault import Vault
from promptvault.config import Settings

from .conftest import _admin_dsn, cli

ROUNDS = 6
PROMPTS = 120


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), capture_output=True, text=True, check=False, timeout=300)


def _writing_window(args: tuple[str, ...], writing: Callable[[], bool]) -> float:
    """Run a command to the end; seconds from its first write to its exit."""
    proc = subprocess.Popen(cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    began = None
    while proc.poll() is None:
        if began is None and writing():
            began = time.monotonic()
        time.sleep(0.002)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert began is not None, "the command finished before any write was seen"
    return time.monotonic() - began


def _kill_while_writing(args: tuple[str, ...], writing: Callable[[], bool], delay: float) -> bool:
    """SIGKILL the command ``delay`` seconds after its first write; False if it finished."""
    proc = subprocess.Popen(cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and not writing():
        time.sleep(0.002)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        return True
    return False


def _moment(rng: random.Random, window: float, round_: int) -> float:
    """A random moment in the ``round_``-th of ROUNDS equal slices of ``window``."""
    return window * (round_ + rng.random()) / ROUNDS


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def _backup(tmp_path: Path, name: str, versions: int, *, label: str = "staging") -> Path:
    """A backup of PROMPTS prompts with ``versions`` versions each (built on SQLite)."""
    path = tmp_path / f"{name}.json"
    with Vault(Settings(database_url=f"sqlite:///{tmp_path / name}.db")) as vault:
        for i in range(PROMPTS):
            for k in range(versions):
                vault.push(f"{name}{i:03}", template=f"{name} {i}.{k} " + "z" * 2000)
            vault.set_label(f"{name}{i:03}", label, versions)
        vault.export(path)
    return path


@pytest.mark.slow
def test_pull_killed_leaves_every_file_whole_or_unchanged(
    database_url: str, tmp_path: Path
) -> None:
    with Vault(Settings(database_url=database_url)) as vault:
        vault.import_(_backup(tmp_path, "p", 2, label="staging"), actor="seed")
    old_dir = tmp_path / "old"  # production (v1) files, a third of them missing
    assert _run("--db", database_url, "pull", "--dir", str(old_dir)).returncode == 0
    for path in sorted(old_dir.iterdir())[::3]:
        path.unlink()
    old = _files(old_dir)
    args = ("--db", database_url, "pull", "--label", "staging", "--dir")

    def writing_in(folder: Path) -> Callable[[], bool]:
        before = set(os.listdir(folder))
        return lambda: set(os.listdir(folder)) != before  # a temp file or a new file

    full_dir = tmp_path / "full"
    shutil.copytree(old_dir, full_dir)
    window = _writing_window((*args, str(full_dir)), writing_in(full_dir))
    new = _files(full_dir)
    assert len(new) == PROMPTS and all(new[n] != old[n] for n in old)

    rng = random.Random(7)
    outcomes = {"untouched": 0, "partial": 0, "complete": 0}
    for round_ in range(ROUNDS):
        folder = tmp_path / f"round{round_}"
        shutil.copytree(old_dir, folder)
        _kill_while_writing((*args, str(folder)), writing_in(folder), _moment(rng, window, round_))
        after = _files(folder)
        assert set(after) <= set(new), set(after) - set(new)
        for name, content in after.items():
            assert content in (old.get(name), new[name]), f"round {round_}: {name} is torn"
        assert set(old) <= set(after), f"round {round_}: a file was removed"
        updated = sum(after[n] == new[n] for n in after)
        key = "untouched" if updated == 0 else "complete" if updated == PROMPTS else "partial"
        outcomes[key] += 1
    print(f"pull kills: {outcomes}")
    done = _run(*args, str(folder))  # whatever was left behind, the next pull finishes
    assert done.returncode == 0, done.stderr
    assert _files(folder) == new
    assert outcomes["partial"] > 0  # the kills really landed between two files


def _snapshot(url: str) -> dict[str, Any]:
    with Vault(Settings(database_url=url)) as vault:
        return {
            p.name: {
                "versions": [(v.version, v.hash) for v in vault.versions(p.name)],
                "labels": vault.labels(p.name),
                "history": [
                    (e.label, e.from_version, e.to_version) for e in vault.label_history(p.name)
                ],
            }
            for p in vault.list_prompts(limit=None)
        }


def _transaction_writing(url: str) -> Callable[[], bool]:
    """Whether some connection has begun writing to the database at ``url``."""
    if url.startswith("sqlite"):
        # SQLite writers queue on an flock of this file for their whole transaction.
        lock_path = Path(url.removeprefix("sqlite:///") + ".writelock")

        def locked() -> bool:
            if not lock_path.exists():
                return False
            with lock_path.open("rb") as handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
                return False

        return locked
    import psycopg

    name = url.rpartition("/")[2]
    conn = psycopg.connect(_admin_dsn(), autocommit=True)
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_xid IS NOT NULL"

    def writing() -> bool:
        row = conn.execute(query, (name,)).fetchone()
        return bool(row and row[0])

    return writing


@pytest.mark.slow
def test_import_killed_is_all_or_nothing(
    database_url: str, fresh_databases: Any, tmp_path: Path
) -> None:
    backup = _backup(tmp_path, "imp", 3)
    expected = _snapshot(f"sqlite:///{tmp_path / 'imp'}.db")
    assert len(json.loads(backup.read_text())["prompts"]) == len(expected) == PROMPTS

    def migrated_target() -> str:
        url = fresh_databases.new()
        Vault(Settings(database_url=url)).close()  # schema in place: the kill hits the import
        return url

    target = migrated_target()
    window = _writing_window(("--db", target, "import", str(backup)), _transaction_writing(target))
    rng = random.Random(11)
    outcomes = {"nothing": 0, "all": 0}
    for round_ in range(ROUNDS):
        target = migrated_target()
        args = ("--db", target, "import", str(backup))
        _kill_while_writing(args, _transaction_writing(target), _moment(rng, window, round_))
        got = _snapshot(target)
        if got:
            assert got == expected, f"round {round_}: a partial import is visible"
            outcomes["all"] += 1
        else:
            outcomes["nothing"] += 1
            if outcomes["nothing"] == 1:
                done = _run(*args)  # nothing was left behind that stops a rerun
                assert done.returncode == 0, done.stderr
                assert _snapshot(target) == expected
        with Vault(Settings(database_url=target)) as vault:
            assert vault.audit.verify().ok
    print(f"import kills: {outcomes}")
    assert outcomes["nothing"] > 0  # the kills really landed inside the transaction
