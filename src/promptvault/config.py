"""Settings: one pydantic-settings object (``PROMPTVAULT_`` prefix), built and passed in.

Nothing here is read at import time; callers build ``Settings()`` (environment + defaults) or
pass values explicitly, and hand the object to ``Vault``, the server or the CLI.
"""

from __future__ import annotations

import getpass
import os
import socket
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from promptvault._home import default_home

__all__ = ["Settings", "default_actor", "default_home"]


def default_actor() -> str:
    """``user@host`` of this process: who acts when no actor is named."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (containers)
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "user"
    return f"{user}@{socket.gethostname() or 'localhost'}"


class Settings(BaseSettings):
    """Every tunable of promptvault; environment variables use the ``PROMPTVAULT_`` prefix."""

    model_config = SettingsConfigDict(env_prefix="PROMPTVAULT_", extra="ignore")

    home: Path = Field(default_factory=default_home, description="Data directory.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file under home."
    )
    label_ttl: float = Field(default=2.0, ge=0, description="Seconds a label pointer is cached.")
    protected_labels: list[str] = Field(default_factory=lambda: ["production"])
    approval_labels: list[str] = Field(
        default_factory=list,
        description="Labels whose moves need a second person's approval on the server: a "
        "promote becomes a change request (four-eyes).",
    )
    actor: str | None = Field(
        default=None,
        description="Who the library records as acting (audit log, label moves, authors) "
        "when a call names no actor; default: user@host.",
    )
    timezone: str = Field(default="UTC", description="Zone for the built-in now/today.")

    bandit_interval: float = Field(
        default=300.0,
        ge=0,
        description="Seconds between a server's reallocations of running bandit experiments "
        "(0: only on request).",
    )

    # templating limits
    max_source_bytes: int = Field(default=1 << 20, ge=1)
    max_output_bytes: int = Field(default=10 << 20, ge=1)
    max_partial_depth: int = Field(default=32, ge=1)

    # server
    host: str = "127.0.0.1"
    port: int = Field(default=8600, ge=0, le=65535)
    max_body_bytes: int = Field(default=1 << 20, ge=1)
    header_timeout: float = Field(
        default=10.0,
        ge=0,
        description="Seconds a client has to send a complete request head (0: no limit).",
    )
    keep_alive_timeout: int = Field(
        default=5, ge=1, description="Seconds an idle keep-alive connection stays open."
    )
    max_connections: int = Field(
        default=1000,
        ge=1,
        description="Open connections per server process; beyond it requests get 503.",
    )
    stream_heartbeat: float = Field(
        default=15.0,
        gt=0,
        description="Seconds between comment heartbeats on an idle /v1/stream connection.",
    )
    stream_poll_interval: float | None = Field(
        default=None,
        gt=0,
        description="Seconds between outbox checks of the stream broadcaster (default: 0.2 "
        "on SQLite; 1 on PostgreSQL, where LISTEN/NOTIFY wakes it at once).",
    )
    max_header_bytes: int = Field(
        default=16384,
        ge=1024,
        description="Largest request head buffered while incomplete (beyond it: 400).",
    )
    auth_failure_burst: int = Field(
        default=20,
        ge=1,
        description="Failed authentications a client address (or key id) may make at once.",
    )
    auth_failures_per_minute: float = Field(
        default=30.0, gt=0, description="Failed authentications a client regains per minute."
    )
    auth_audit_window: float = Field(
        default=60.0,
        gt=0,
        description="Seconds per audit entry summarising failed authentications.",
    )
    log_repeat_interval: float = Field(
        default=10.0,
        ge=0,
        description="A repeated server error is logged once per this many seconds, with a "
        "count of the ones suppressed (0: log every one).",
    )

    # web UI sessions
    session_secret: str | None = Field(
        default=None,
        description="Key that signs web UI session cookies; default: a random one kept "
        "in home/session.key (set it when servers do not share a home directory).",
    )
    session_max_age: int = Field(default=12 * 3600, ge=60, description="UI session seconds.")

    # audit log anchoring
    audit_key: str | None = Field(
        default=None,
        description="Key that signs the audit log's checkpoints; default: a random one kept "
        "in home/audit.key (set the same value on every server sharing a database).",
    )
    audit_witness: Path | None = Field(
        default=None,
        description="File that every committed audit head is appended to (an external "
        "witness, ideally on other storage); verify checks the chain against it.",
    )

    # API keys
    key_rotation_grace: int = Field(
        default=24 * 3600,
        ge=0,
        description="Seconds the old key keeps working after `keys rotate`.",
    )

    # remote mode (CLI and SDK)
    url: str | None = Field(default=None, description="Server URL; set = CLI remote mode.")
    api_key: str | None = None

    # few-shot embeddings
    embeddings_url: str | None = Field(
        default=None, description="OpenAI-compatible base URL for the 'openai' embedder."
    )
    embeddings_api_key: str | None = None
    embeddings_model: str = "text-embedding-3-small"
    examples_approximate_from: int = Field(
        default=20_000,
        ge=0,
        description="Collections with at least this many examples also get an approximate "
        "(HNSW) index when usearch is installed (promptvault[ann]); 0 turns it off.",
    )

    # evaluations
    secret_key: str | None = Field(
        default=None,
        description="Key that encrypts model provider secrets at rest (a Fernet key, or any "
        "text, from which one is derived); without it no provider secret can be stored.",
    )
    eval_providers: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Model providers from settings, by name: {kind: openai|anthropic, "
        "base_url, api_key, model, timeout, max_retries}; providers stored through the API "
        "take precedence.",
    )
    eval_prices: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Price per million tokens by model: {model: {input: ..., output: ...}}.",
    )
    eval_concurrency: int = Field(default=8, ge=1, le=256, description="Model calls at once.")
    eval_timeout: float = Field(default=60.0, gt=0, description="Seconds per model call.")
    eval_max_retries: int = Field(
        default=4, ge=0, le=20, description="Retries of a model call on 429, 5xx or timeout."
    )
    eval_lease: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds a process's claim on the run it executes holds unless renewed "
        "(every third of it): a run whose process died (killed, crashed) reads as "
        "interrupted, and may be resumed, once its lease has run out.",
    )

    # webhooks
    webhook_dispatcher: bool = Field(
        default=True,
        description="Run the webhook dispatcher inside the server (one is active per database "
        "at a time, whatever the number of servers and workers).",
    )
    webhook_allow_networks: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR, e.g. 127.0.0.0/8) webhooks may reach although they are "
        "not public; by default private, loopback, link-local, multicast and reserved "
        "addresses are refused.",
    )
    webhook_retry_schedule: list[float] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        description="Seconds before each retry of a failed delivery (each with +-20% jitter); "
        "the default retries for about 27.6 hours.",
    )
    webhook_disable_after: int = Field(
        default=8,
        ge=1,
        description="Consecutive failed attempts after which an endpoint is disabled.",
    )
    webhook_timeout: float = Field(default=10.0, gt=0, description="Seconds per delivery.")
    webhook_lease_seconds: float = Field(
        default=30.0, gt=0, description="How long a dispatcher's lease lasts unrenewed."
    )
    webhook_poll_interval: float = Field(
        default=1.0, gt=0, description="Seconds between two looks for new change events."
    )
    webhook_log_days: float = Field(
        default=30.0,
        gt=0,
        description="Days a delivery attempt stays in the log; the dispatcher deletes older "
        "ones once an hour.",
    )

    def resolved_actor(self) -> str:
        """The configured actor, else ``user@host``: never empty."""
        return self.actor or default_actor()

    def resolved_database_url(self) -> str:
        """The configured URL, or the SQLite file under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'promptvault.db'}"
