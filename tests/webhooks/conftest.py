"""Fixtures for webhook tests: a loopback receiver and a Vault that may reach loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from promptvault import Vault
from promptvault.config import Settings

from .receiver import Receiver, receiver

# Compressed retry schedule: the same code path as the default 27.6 h one.
FAST = {
    "webhook_allow_networks": ["127.0.0.0/8"],
    "webhook_retry_schedule": [0.05, 0.1, 0.2],
    "webhook_disable_after": 8,
    "webhook_poll_interval": 0.02,
    "webhook_lease_seconds": 5.0,
}


def fast_settings(url: str, home: Path, **overrides: object) -> Settings:
    return Settings(database_url=url, home=home, **{**FAST, **overrides})  # type: ignore[arg-type]


@pytest.fixture
def sink() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def vault(sqlite_url: str, home: Path) -> Iterator[Vault]:
    v = Vault(fast_settings(sqlite_url, home))
    v.push("team/support", template="v1 {{name}}", author="setup")
    yield v
    v.close()
