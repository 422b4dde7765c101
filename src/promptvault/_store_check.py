"""Type-level proof that the library and both SDK clients are one :mod:`promptvault.store`.

Nothing here runs: ``mypy --strict src`` reads the assignments below and fails when
``Vault``, ``PromptVaultClient``, ``AsyncPromptVaultClient`` or the CLI's remote store
drifts from the protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promptvault.cli._remote import RemoteBackend
    from promptvault.client import AsyncPromptVaultClient, PromptVaultClient
    from promptvault.store import AsyncPromptStore, PromptStore
    from promptvault.vault import Vault

    def _library(vault: Vault) -> PromptStore:
        return vault

    def _sync_sdk(client: PromptVaultClient) -> PromptStore:
        return client

    def _async_sdk(client: AsyncPromptVaultClient) -> AsyncPromptStore:
        return client

    def _cli_remote(backend: RemoteBackend) -> PromptStore:
        return backend
