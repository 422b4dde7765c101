"""Provider secrets encrypted at rest (see :mod:`promptvault._fernet` for how and with what).

A provider's API key is always stored encrypted: without ``PROMPTVAULT_SECRET_KEY`` it is
refused rather than stored as is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from promptvault import _fernet
from promptvault.errors import SecretKeyMissingError

if TYPE_CHECKING:
    from promptvault.config import Settings

__all__ = ["decrypt", "encrypt"]

_NO_KEY = (
    "provider secrets are stored encrypted and PROMPTVAULT_SECRET_KEY is not set: set it "
    "(the same value on every server sharing the database) and try again"
)


def _key(settings: Settings, field: str) -> str:
    if not settings.secret_key:
        raise SecretKeyMissingError(_NO_KEY, details={"field": field})
    return settings.secret_key


def encrypt(settings: Settings, plaintext: str) -> str:
    """A token for ``plaintext`` (refused with a clear error when no key is set)."""
    return _fernet.encrypt(_key(settings, "api_key"), plaintext)


def decrypt(settings: Settings, token: str, *, provider: str) -> str:
    """The plaintext of a stored token; a wrong key is named as such, not a crash."""
    found = _fernet.decrypt(_key(settings, "secret_key"), token)
    if found is None:
        raise SecretKeyMissingError(
            f"the secret of provider {provider!r} was stored with another "
            "PROMPTVAULT_SECRET_KEY: set that key, or store the secret again",
            details={"field": "secret_key", "provider": provider},
        )
    return found
