"""Signing secrets at rest: encrypted with ``settings.secret_key`` when it is set.

A signing secret must be read back to sign every delivery, so it cannot be stored as a
digest. With ``PROMPTVAULT_SECRET_KEY`` set (the key that also encrypts model provider
secrets, derived the same way: a Fernet key, or any text hashed into one) it is stored as
``fernet:<token>``, so a copy of the database holds no usable secret; without it, as is.
Both kinds read back, so setting the key later encrypts only new subscriptions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import TYPE_CHECKING

from promptvault._extras import with_install_hint
from promptvault.errors import SecretKeyMissingError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

    from promptvault.config import Settings

__all__ = ["ENCRYPTED_PREFIX", "reveal", "seal"]

ENCRYPTED_PREFIX = "fernet:"


def _fernet(key: str) -> Fernet:
    try:
        from cryptography.fernet import Fernet
    except ModuleNotFoundError as exc:  # the cryptography package comes with [evals]
        raise with_install_hint(exc) from exc
    raw = key.encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return Fernet(raw)
    except (binascii.Error, ValueError):
        pass
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(raw).digest()))


def seal(settings: Settings, secret: str) -> str:
    """What to store for ``secret``: encrypted when a key is set, else the secret."""
    if not settings.secret_key:
        return secret
    return ENCRYPTED_PREFIX + _fernet(settings.secret_key).encrypt(secret.encode()).decode()


def reveal(settings: Settings, stored: str) -> str:
    """The secret behind a stored value; a missing or wrong key is named as such."""
    if not stored.startswith(ENCRYPTED_PREFIX):
        return stored
    from cryptography.fernet import InvalidToken

    if not settings.secret_key:
        raise SecretKeyMissingError(
            "this webhook's secret is stored encrypted and PROMPTVAULT_SECRET_KEY is not set",
            details={"field": "secret_key"},
        )
    try:
        token = stored.removeprefix(ENCRYPTED_PREFIX).encode()
        return _fernet(settings.secret_key).decrypt(token).decode()
    except InvalidToken:
        raise SecretKeyMissingError(
            "this webhook's secret was stored with another PROMPTVAULT_SECRET_KEY",
            details={"field": "secret_key"},
        ) from None
