"""The evaluations service, ``vault.evals``.

::

    vault.evals.import_cases("support-qa", Path("cases.jsonl"))
    vault.evals.set_provider("local", kind="openai", base_url="http://127.0.0.1:8000/v1",
                             api_key="...")
    run = vault.evals.run("support-qa", "support@staging", provider="local",
                          evaluators=[{"type": "contains"}])
    vault.evals.compare(baseline.id, run.id)

This package does not import the registry, the builder's callers or the few-shot service:
the Vault hands in ``build`` (``vault.build``: resolve, render, assemble exactly as
applications do), ``resolve`` (a reference to its version) and ``embed`` (the collections'
embedders by name). Who may do what is the caller's concern: the server checks roles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from promptvault.config import Settings
from promptvault.evals.datasets import DatasetsMixin
from promptvault.evals.gates import GatesMixin
from promptvault.evals.provider_store import ProvidersMixin
from promptvault.evals.providers import Sleep
from promptvault.evals.runs import RunsMixin

if TYPE_CHECKING:
    from promptvault.builder.builder import BuiltRequest
    from promptvault.entities import PromptVersion
    from promptvault.storage.database import Database

__all__ = ["EvalService"]

BuildFn = Callable[[str, Mapping[str, Any]], "BuiltRequest"]
ResolveFn = Callable[[str], "PromptVersion"]
EmbedFn = Callable[[str, list[str]], list[list[float]]]


class EvalService(DatasetsMixin, ProvidersMixin, RunsMixin, GatesMixin):
    """Datasets, providers, runs, comparisons and gates over one database."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        build: BuildFn,
        resolve: ResolveFn,
        embed: EmbedFn | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._build = build
        self._resolve = resolve
        self._embed = embed
        # How retries wait; tests hand in one that records the wait instead of sleeping.
        self._sleep: Sleep = sleep or asyncio.sleep
