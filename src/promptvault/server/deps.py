"""Dependencies the routers share: the Vault, settings, key service and metrics of the app.

They are ``async`` on purpose: FastAPI runs a plain ``def`` dependency in the thread pool,
and a thread hop per dependency would cost more than the whole cached resolve.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from promptvault.config import Settings
from promptvault.registry.keys import KeyService
from promptvault.server.metrics import Metrics
from promptvault.vault import Vault

__all__ = ["KeysDep", "MetricsDep", "SettingsDep", "VaultDep", "page_size"]

MAX_PAGE = 500
DEFAULT_PAGE = 100


async def _vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _keys(request: Request) -> KeyService:
    keys: KeyService = request.app.state.keys
    return keys


async def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


VaultDep = Annotated[Vault, Depends(_vault)]
SettingsDep = Annotated[Settings, Depends(_settings)]
KeysDep = Annotated[KeyService, Depends(_keys)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]


def page_size(limit: int | None) -> int:
    """The page size to use for a ``limit`` query value (bounded by the model's ``le``)."""
    return DEFAULT_PAGE if limit is None else limit


def state(request: Request) -> Any:
    """The application state (for routers that need more than one service)."""
    return request.app.state
