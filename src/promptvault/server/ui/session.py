"""Signed session cookies and CSRF tokens for the web UI.

A session cookie holds ``{key id, nonce, issued at}`` signed with HMAC-SHA256; the API key
itself never leaves the sign-in request. The nonce is the session's id in the database
(:class:`~promptvault.registry.sessions.SessionStore`): every request checks that the
session is still live there (signing out revokes it) and that the key is still active
(a revoked key signs its sessions out), both with the same short cache as API keys.

CSRF: every form carries a token bound to the session (``HMAC(secret, "csrf:" + nonce)``)
and JavaScript sends it as ``X-CSRF-Token``; the sign-in form, before any session exists,
uses a double-submit cookie. The cookies are HttpOnly and ``SameSite=Strict``.

The signing secret is ``settings.session_secret`` or, when unset, a random secret created
once in ``home/session.key`` (mode 0600), so every worker sharing the home agrees on it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from promptvault.config import Settings

__all__ = [
    "CSRF_COOKIE",
    "SECRET_FILE",
    "SESSION_COOKIE",
    "Session",
    "SessionCodec",
    "load_secret",
]

SESSION_COOKIE = "pv_session"
CSRF_COOKIE = "pv_login_csrf"
SECRET_FILE = "session.key"  # noqa: S105 - a file name, not a secret


@dataclass(frozen=True, slots=True)
class Session:
    """A verified session: which API key it acts for, and its CSRF token."""

    key_id: str
    nonce: str
    issued: float
    csrf: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(settings: Settings) -> bytes:
    """The signing secret: the setting, else ``home/session.key`` (created once, 0600)."""
    if settings.session_secret:
        return hashlib.sha256(settings.session_secret.encode("utf-8")).digest()
    home = Path(settings.home)
    path = home / SECRET_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (FileNotFoundError, ValueError):
        pass
    home.mkdir(parents=True, exist_ok=True)
    # Written to a private temp file, then hard-linked into place: link() fails when the
    # file exists, so workers starting together all end up with the first one's secret,
    # and nobody ever reads a half-written file.
    fresh = secrets.token_hex(32)
    tmp = home / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(fresh + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


class SessionCodec:
    """Issues and verifies session cookies and the CSRF tokens bound to them."""

    def __init__(
        self, secret: bytes, *, max_age: int, clock: Callable[[], float] | None = None
    ) -> None:
        self._secret = secret
        self.max_age = max_age
        self._clock = clock or time.time

    def _sign(self, purpose: str, payload: bytes) -> bytes:
        return hmac.new(self._secret, purpose.encode() + b"\0" + payload, hashlib.sha256).digest()

    def issue(self, key_id: str, session_id: str | None = None) -> tuple[str, Session]:
        """A cookie value for ``key_id`` and the session it encodes.

        ``session_id`` is the id the server stored for the session (it becomes the nonce);
        without one a random nonce is used (a session no store knows).
        """
        nonce = session_id or secrets.token_urlsafe(16)
        issued = float(int(self._clock()))
        body = json.dumps({"k": key_id, "n": nonce, "t": issued}, separators=(",", ":"))
        payload = body.encode("utf-8")
        value = f"{_b64(payload)}.{_b64(self._sign('session', payload))}"
        return value, Session(key_id, nonce, issued, self.csrf_for(nonce))

    def read(self, value: str | None) -> Session | None:
        """The session a cookie value encodes, or None when absent, forged or expired."""
        if not value or value.count(".") != 1:
            return None
        head, sig = value.split(".")
        try:
            payload, given = _unb64(head), _unb64(sig)
            if not hmac.compare_digest(given, self._sign("session", payload)):
                return None
            data = json.loads(payload)
            key_id, nonce, issued = str(data["k"]), str(data["n"]), float(data["t"])
        except (ValueError, KeyError, TypeError):
            return None
        now = self._clock()
        if issued > now + 60 or now - issued > self.max_age:
            return None
        return Session(key_id, nonce, issued, self.csrf_for(nonce))

    def csrf_for(self, nonce: str) -> str:
        """The CSRF token of the session with ``nonce``."""
        return _b64(self._sign("csrf", nonce.encode("utf-8")))

    @staticmethod
    def csrf_matches(expected: str, given: str | None) -> bool:
        """Constant-time comparison of a submitted CSRF token."""
        if not given:
            return False
        return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
