"""Secrets at rest, encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under one key.

The key is the ``secret_key`` setting (``PROMPTVAULT_SECRET_KEY``), never stored in the
database, so a copy of the database (or a backup) holds no usable secret. The setting may be
a Fernet key or any text, from which a key is derived with SHA-256. Model provider keys
(:mod:`promptvault.evals.secrets`) and webhook signing secrets
(:mod:`promptvault.webhooks.secrets`) both go through here, so one key opens both.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import TYPE_CHECKING

from promptvault._extras import with_install_hint

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

__all__ = ["decrypt", "encrypt"]


def _fernet(secret_key: str) -> Fernet:
    try:
        from cryptography.fernet import Fernet
    except ModuleNotFoundError as exc:  # the cryptography package comes with [evals]
        raise with_install_hint(exc) from exc
    raw = secret_key.encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return Fernet(raw)
    except (binascii.Error, ValueError):
        pass
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(raw).digest()))


def encrypt(secret_key: str, plaintext: str) -> str:
    """A Fernet token for ``plaintext`` under ``secret_key``."""
    return _fernet(secret_key).encrypt(plaintext.encode()).decode()


def decrypt(secret_key: str, token: str) -> str | None:
    """The plaintext of ``token``; None when it was made with another key (or is damaged)."""
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        return None
