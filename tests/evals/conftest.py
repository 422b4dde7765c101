"""Evaluation fixtures: a Vault with a prompt and a dataset, and loopback model servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from promptvault import Vault
from promptvault.config import Settings
from promptvault.evals.service import EvalService

from .model_stub import ModelStub

SECRET = "test secret key"
PRICES = {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}


@pytest.fixture
def stub() -> Iterator[ModelStub]:
    with ModelStub() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'vault.db'}",
        secret_key=SECRET,
        eval_prices=PRICES,
        eval_max_retries=3,
    )


@pytest.fixture
def vault(settings: Settings, stub: ModelStub) -> Iterator[Vault]:
    """A vault with prompt ``qa`` (v1 in production), dataset ``d`` of 12 cases whose
    expected answer is what the stub echoes, and provider ``stub`` (OpenAI-compatible)."""
    v = Vault(settings)
    v.push(
        "qa",
        template=[{"role": "user", "content": "Answer {{q}}"}],
        config={"model": "gpt-4o-mini", "temperature": 0},
        variables_schema={"type": "object", "properties": {"q": {"type": "string"}}},
    )
    v.evals.create_dataset(
        "d",
        cases=[
            {"key": f"c{i:02d}", "variables": {"q": f"n{i}"}, "expected": f"Answer n{i}"}
            for i in range(12)
        ],
        evaluators=[{"type": "exact"}],
    )
    v.evals.set_provider("stub", kind="openai", base_url=stub.url, api_key="sk-test")
    yield v
    v.close()


class Waits:
    """A retry sleep that records the waits and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def evals(vault: Vault, waits: Waits) -> EvalService:
    """``vault.evals`` whose retries record their waits instead of sleeping."""
    return EvalService(
        vault.db,
        vault.settings,
        build=vault.build,
        resolve=vault.registry.resolver.get,
        sleep=waits,
    )
