"""Fixtures for registry tests: a Vault on each database, and a table snapshot helper."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from promptvault import Vault
from promptvault.config import Settings


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def vault(database_url: str, clock: FakeClock) -> Iterator[Vault]:
    """A Vault on SQLite and on PostgreSQL, with a hand-moved clock."""
    v = Vault(Settings(database_url=database_url), clock=clock)
    yield v
    v.close()


@pytest.fixture
def sqlite_vault(sqlite_url: str, clock: FakeClock) -> Iterator[Vault]:
    """A Vault on a SQLite file only (for tests whose database does not matter)."""
    v = Vault(Settings(database_url=sqlite_url), clock=clock)
    yield v
    v.close()


TABLES = ("prompts", "prompt_versions", "labels", "label_events", "tags", "audit_log")


def snapshot(vault: Vault) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every registry table, for "nothing changed" assertions."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with vault.db.engine.connect() as conn:
        for table in TABLES:
            rows = conn.execute(text(f"SELECT * FROM {table}")).all()
            out[table] = sorted((tuple(map(repr, r)) for r in rows), key=repr)
    return out
