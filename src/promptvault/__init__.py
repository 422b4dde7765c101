"""promptvault: self-hosted prompt management.

``from promptvault import Vault`` gives the library; the import is lazy so that the SDK and
CLI start without loading the database layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Vault", "__version__"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from promptvault.vault import Vault


def __getattr__(name: str) -> Any:
    if name == "Vault":
        try:
            from promptvault.vault import Vault
        except ModuleNotFoundError as exc:  # the SDK-only install: say which extra
            from promptvault._extras import with_install_hint

            raise with_install_hint(exc) from exc
        return Vault
    raise AttributeError(f"module 'promptvault' has no attribute {name!r}")
