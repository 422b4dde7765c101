"""Standard Webhooks signatures (https://www.standardwebhooks.com, v1 symmetric).

A secret reads ``whsec_`` + base64 of 32 random bytes. Each message carries three headers:
``webhook-id`` (the same for every attempt at one message, so receivers deduplicate by
it), ``webhook-timestamp`` (integer Unix seconds of this attempt) and ``webhook-signature``
= ``v1,`` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")) where the key is the
base64-decoded part of the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from promptvault.errors import InvalidInputError

__all__ = ["SECRET_PREFIX", "generate_secret", "headers", "sign"]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix the specification gives, not a secret
_SECRET_BYTES = 32


def generate_secret() -> str:
    """A new random signing secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError as exc:
        raise InvalidInputError(
            "a webhook secret is whsec_ followed by base64", details={"field": "secret"}
        ) from exc
    if not key:
        raise InvalidInputError("the webhook secret is empty", details={"field": "secret"})
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one attempt."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers (plus the JSON content type)."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }
