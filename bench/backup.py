"""Audit anchoring, backup and restore benchmark.

Builds a database with N prompts x V versions (every push is audited and checkpointed) and
E experiment exposures, then measures on SQLite and PostgreSQL: push throughput (the cost
every write pays for its signed checkpoint), ``audit verify`` over the whole chain, an
online ``backup`` while another thread keeps pushing, and ``restore`` into a fresh SQLite
file (with its audit check).

    .venv/bin/python bench/backup.py            # 2,000 pushes, 100,000 exposures
    .venv/bin/python bench/backup.py --quick    # smoke run
    PROMPTVAULT_BENCH_POSTGRES_URL=postgresql+psycopg://... to point at another server
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from promptvault import Vault
from promptvault.config import Settings

POSTGRES_URL = os.environ.get(
    "PROMPTVAULT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def _postgres_database() -> Iterator[str]:
    import psycopg

    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"pv_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_URL.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fill(vault: Vault, pushes: int, exposures: int) -> float:
    started = time.perf_counter()
    for i in range(pushes):
        vault.push(f"p{i % 50}", template=f"Hello {{{{name}}}} {i}", author="bench")
    rate = pushes / (time.perf_counter() - started)
    if exposures:
        vault.experiments.create(
            "bench",
            prompt="p0",
            variants=[
                {"name": "a", "version": 1, "weight": 50},
                {"name": "b", "version": 2, "weight": 50},
            ],
            primary_metric={"name": "ok", "kind": "binary"},
        )
        vault.experiments.start("bench")
        batch = [
            {"type": "exposure", "experiment": "bench", "unit_id": f"u{i}"}
            for i in range(exposures)
        ]
        for start in range(0, exposures, 5000):
            vault.experiments.ingest(batch[start : start + 5000])
    return rate


def _run(label: str, url: str, tmp: Path, pushes: int, exposures: int) -> None:
    settings = Settings(database_url=url, home=tmp / "home")
    vault = Vault(settings)
    try:
        rate = _fill(vault, pushes, exposures)
        started = time.perf_counter()
        report = vault.audit.verify()
        verify_s = time.perf_counter() - started
        assert report.ok, report.reason

        stop = threading.Event()
        pushed = [0]

        def writer() -> None:
            other = Vault(settings)
            try:
                while not stop.is_set():
                    other.push("busy", template=f"t {pushed[0]}")
                    pushed[0] += 1
            finally:
                other.close()

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            started = time.perf_counter()
            result = vault.backup(tmp / f"{label}.bak")
            backup_s = time.perf_counter() - started
        finally:
            stop.set()
            thread.join()
        target = f"sqlite:///{tmp / f'{label}-restored.db'}"
        started = time.perf_counter()
        restored = Vault.restore(
            tmp / f"{label}.bak", settings=settings.model_copy(update={"database_url": target})
        )
        restore_s = time.perf_counter() - started
        assert restored.audit.ok
    finally:
        vault.close()
    rows = sum(result.rows.values())
    print(
        f"{label:<10} push {rate:7.0f}/s | verify {report.checked} entries {verify_s:6.2f} s | "
        f"backup {rows} rows {result.bytes / 1e6:6.1f} MB {backup_s:6.2f} s "
        f"({pushed[0]} pushes meanwhile) | restore {restore_s:6.2f} s"
    )


def main() -> None:
    """Run on SQLite and PostgreSQL and print one line each."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    pushes, exposures = (200, 2_000) if args.quick else (2_000, 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        _run("sqlite", f"sqlite:///{base / 'bench.db'}", base, pushes, exposures)
        with _postgres_database() as url:
            _run("postgres", url, base, pushes, exposures)


if __name__ == "__main__":
    main()
