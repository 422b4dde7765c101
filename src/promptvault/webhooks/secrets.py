"""Signing secrets at rest: encrypted with ``settings.secret_key`` when it is set.

A signing secret must be read back to sign every delivery, so it cannot be stored as a
digest. With ``PROMPTVAULT_SECRET_KEY`` set (the key that also encrypts model provider
secrets, see :mod:`promptvault._fernet`) it is stored as ``fernet:<token>``, so a copy of
the database holds no usable secret; without it, as is. Both kinds read back, so setting the
key later encrypts only new subscriptions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from promptvault import _fernet
from promptvault.errors import SecretKeyMissingError

if TYPE_CHECKING:
    from promptvault.config import Settings

__all__ = ["ENCRYPTED_PREFIX", "reveal", "seal"]

ENCRYPTED_PREFIX = "fernet:"


def seal(settings: Settings, secret: str) -> str:
    """What to store for ``secret``: encrypted when a key is set, else the secret."""
    if not settings.secret_key:
        return secret
    return ENCRYPTED_PREFIX + _fernet.encrypt(settings.secret_key, secret)


def reveal(settings: Settings, stored: str) -> str:
    """The secret behind a stored value; a missing or wrong key is named as such."""
    if not stored.startswith(ENCRYPTED_PREFIX):
        return stored
    if not settings.secret_key:
        raise SecretKeyMissingError(
            "this webhook's secret is stored encrypted and PROMPTVAULT_SECRET_KEY is not set",
            details={"field": "secret_key"},
        )
    found = _fernet.decrypt(settings.secret_key, stored.removeprefix(ENCRYPTED_PREFIX))
    if found is None:
        raise SecretKeyMissingError(
            "this webhook's secret was stored with another PROMPTVAULT_SECRET_KEY",
            details={"field": "secret_key"},
        )
    return found
