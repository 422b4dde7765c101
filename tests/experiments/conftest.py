"""Fixtures for experiment service tests: a Vault with a two-version prompt, on each database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from promptvault import Vault
from promptvault.config import Settings
from promptvault.experiments.models import Experiment

PROMPT = "support"


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
    """A Vault on SQLite and on PostgreSQL with ``support`` v1 (production) and v2."""
    v = Vault(Settings(database_url=database_url), clock=clock)
    v.push(PROMPT, template="Hello {{name}}", author="setup")
    v.push(PROMPT, template="Hi there {{name}}", author="setup", labels=["staging"])
    yield v
    v.close()


def make(
    vault: Vault,
    name: str = "tone",
    *,
    weights: tuple[float, float] = (50, 50),
    guardrails: list[dict[str, Any]] | None = None,
    start: bool = True,
    **options: Any,
) -> Experiment:
    """Create (and start) a control=v1 / friendly=v2 experiment on ``support``."""
    exp = vault.experiments.create(
        name,
        prompt=PROMPT,
        variants=[
            {"name": "control", "version": 1, "weight": weights[0]},
            {"name": "friendly", "version": "staging", "weight": weights[1]},
        ],
        primary_metric={"name": "resolved", "kind": "binary"},
        guardrails=guardrails or [],
        metrics=[{"name": "rating", "kind": "continuous"}],
        actor="alice",
        **options,
    )
    if start:
        exp = vault.experiments.start(name, actor="alice")
    return exp
