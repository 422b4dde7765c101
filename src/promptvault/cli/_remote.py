"""Remote mode: the SDK client behind the Vault's method names, for the CLI commands.

The server records who acts from the API key, so the ``author``/``actor`` arguments the
commands pass are dropped here. Operations the HTTP API does not offer to the SDK (audit,
backups) say so instead of failing obscurely.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

from promptvault.errors import InvalidInputError

__all__ = ["ADMIN_KEY_FILE", "RemoteBackend", "open_remote"]

# Where ``promptvault serve`` stores the first admin key for the CLI on the same machine.
ADMIN_KEY_FILE = "admin.key"


def _local_only(what: str) -> NoReturn:
    raise InvalidInputError(
        f"{what} works on a database, not through a server: run it where the database is "
        "reachable with --db, or unset PROMPTVAULT_URL",
        details={"field": "--server", "operation": what},
    )


class _NoAudit:
    def entries(self, **_filters: Any) -> NoReturn:
        _local_only("audit log")

    def verify(self) -> NoReturn:
        _local_only("audit verify")


class RemoteBackend:
    """A :class:`~promptvault.client.PromptVaultClient` answering like a Vault."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.audit = _NoAudit()

    def __getattr__(self, name: str) -> Any:
        # get, render, get_prompt, list_prompts, versions, labels, diff: same signatures.
        return getattr(self.client, name)

    def push(self, name: str, *, author: str = "", **fields: Any) -> Any:
        """Push through the server (it records the key's name as the author)."""
        return self.client.push(name, **fields)

    def set_label(self, name: str, label: str, version: int, *, actor: str = "") -> Any:
        """Move a label."""
        return self.client.set_label(name, label, version)

    def rollback(self, name: str, *, label: str = "production", actor: str = "") -> Any:
        """Move a label back."""
        return self.client.rollback(name, label=label)

    def label_history(self, name: str, label: str | None = None) -> list[Any]:
        """Moves of one label, or of every label (merged, newest first)."""
        if label is not None:
            return list(self.client.label_history(name, label))
        events: list[Any] = []
        for each in self.client.labels(name):
            events.extend(self.client.label_history(name, each))
        return sorted(events, key=lambda e: (e.at, e.id), reverse=True)

    def export(self, path: str | Path) -> NoReturn:
        """Not offered by the server."""
        _local_only("export")

    def import_(self, path: str | Path, **_kw: Any) -> NoReturn:
        """Not offered by the server."""
        _local_only("import")

    def import_seed_registry(self, path: str | Path, **_kw: Any) -> NoReturn:
        """Not offered by the server."""
        _local_only("import-seed")

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()


def open_remote(url: str, api_key: str | None, home: Path) -> RemoteBackend:
    """A RemoteBackend on ``url``; the key defaults to the one ``serve`` left in ``home``."""
    from promptvault.client import PromptVaultClient

    key = api_key
    if not key:
        stored = home / ADMIN_KEY_FILE
        if stored.is_file():
            key = stored.read_text(encoding="utf-8").strip() or None
    # A command reads once and exits: no cache to keep fresh, no disk fallback.
    client = PromptVaultClient(url, key, cache_ttl=0, timeout=10.0)
    return RemoteBackend(client)
