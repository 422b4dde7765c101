"""Provider secrets encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The key comes from the environment (``PROMPTVAULT_SECRET_KEY``), never from the database,
so a copy of the database (or a backup) does not hold a usable secret. The setting may be
a Fernet key or any text, from which a key is derived with SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import TYPE_CHECKING

from promptvault.errors import SecretKeyMissingError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

    from promptvault.config import Settings

__all__ = ["decrypt", "encrypt"]

_NO_KEY = (
    "provider secrets are stored encrypted and PROMPTVAULT_SECRET_KEY is not set: set it "
    "(the same value on every server sharing the database) and try again"
)


def _fernet(settings: Settings, field: str) -> Fernet:
    from cryptography.fernet import Fernet

    if not settings.secret_key:
        raise SecretKeyMissingError(_NO_KEY, details={"field": field})
    raw = settings.secret_key.encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return Fernet(raw)
    except (binascii.Error, ValueError):
        pass
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(raw).digest()))


def encrypt(settings: Settings, plaintext: str) -> str:
    """A token for ``plaintext`` (refused with a clear error when no key is set)."""
    return _fernet(settings, "api_key").encrypt(plaintext.encode()).decode()


def decrypt(settings: Settings, token: str, *, provider: str) -> str:
    """The plaintext of a stored token; a wrong key is named as such, not a crash."""
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(settings, "secret_key").decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretKeyMissingError(
            f"the secret of provider {provider!r} was stored with another "
            "PROMPTVAULT_SECRET_KEY: set that key, or store the secret again",
            details={"field": "secret_key", "provider": provider},
        ) from None
