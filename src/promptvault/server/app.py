"""The FastAPI application: ``create_app(settings or vault)``.

::

    from promptvault.server.app import create_app
    app = create_app(Settings(database_url="sqlite:///vault.db"))   # or create_app(vault)

The app holds one Vault (its caches make resolve cheap), the API-key service, and the
metrics of this process. A web UI, when the ``promptvault.server.ui`` package is present,
mounts itself through its ``mount(app)`` function.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.concurrency import run_in_threadpool

from promptvault import __version__
from promptvault.config import Settings
from promptvault.errors import ConflictError
from promptvault.registry.authfailures import record_auth_failures
from promptvault.registry.keys import KeyService
from promptvault.server.api import ROUTERS
from promptvault.server.api.render import ResolveContext
from promptvault.server.apidocs import mount_docs
from promptvault.server.errors import install_error_handlers
from promptvault.server.evaltasks import EvalTasks
from promptvault.server.fastpath import ResolveFastPath
from promptvault.server.limits import BodyLimitMiddleware
from promptvault.server.metrics import Metrics, MetricsMiddleware
from promptvault.server.protocol import HttpSemanticsMiddleware
from promptvault.server.ratelimit import AuthGuard
from promptvault.server.stream import broadcaster_for, close_app_streams
from promptvault.server.telemetry import serving_telemetry
from promptvault.vault import Vault

if TYPE_CHECKING:
    from promptvault.webhooks.dispatcher import Dispatcher

__all__ = ["ADMIN_KEY_FILE", "create_app", "create_app_from_env", "ensure_admin_key"]

ADMIN_KEY_FILE = "admin.key"

logger = logging.getLogger(__name__)

_DESCRIPTION = """Prompts as immutable, labelled versions.

Send an API key as `Authorization: Bearer pv_...` (or `X-API-Key`). Roles: **runtime**
(resolve, render), **viewer** (all reads), **editor** (push, non-protected labels),
**admin** (protected labels, keys, audit verification).

Errors always read `{"error": {"code", "message", "details"}}`.
"""


def create_app(
    source: Settings | Vault | None = None,
    *,
    fast_resolve: bool = True,
    telemetry: TelemetryConfig | None = None,
) -> FastAPI:
    """The application over a Vault (given, or opened from ``settings``).

    ``fast_resolve=False`` routes ``GET .../resolve`` through the regular router instead of
    the fast path (same answers, more overhead; tests compare the two). ``telemetry`` is
    FastAPI's own setting of that name (its defaults when None).
    """
    if isinstance(source, Vault):
        vault, owned = source, False
    else:
        vault, owned = Vault(source or Settings()), True
    settings = vault.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        audit_failures = asyncio.create_task(_audit_auth_failures(app.state.auth_guard))
        await _follow_changes(app)
        dispatcher = _start_dispatcher(vault) if settings.webhook_dispatcher else None
        app.state.webhook_dispatcher = dispatcher
        wake = asyncio.create_task(_wake_on_changes(vault, dispatcher)) if dispatcher else None
        bandits = (
            asyncio.create_task(_reallocate_bandits(vault, settings.bandit_interval))
            if settings.bandit_interval > 0
            else None
        )
        yield
        # Runs still calling a model are interrupted (results kept, resumable elsewhere).
        await run_in_threadpool(app.state.eval_tasks.shutdown)
        if wake is not None:
            wake.cancel()
        audit_failures.cancel()
        if bandits is not None:
            bandits.cancel()
        await close_app_streams(app)
        if dispatcher is not None:
            await run_in_threadpool(dispatcher.stop)
        try:
            app.state.auth_guard.flush(force=True)  # the last, partial window
        except Exception:  # shutting down: the database may already be gone
            logger.exception("could not audit failed authentications")
        app.state.keys.flush_usage()  # last-used times still queued
        if owned:
            vault.close()

    app = FastAPI(
        title="promptvault",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from the package by mount_docs, not from a CDN
        redoc_url=None,
        telemetry=telemetry,
    )
    app.state.vault = vault
    app.state.settings = settings
    app.state.keys = KeyService(
        vault.db, cache_ttl=settings.label_ttl, rotation_grace=settings.key_rotation_grace
    )
    app.state.metrics = Metrics()
    app.state.eval_tasks = EvalTasks()
    app.state.auth_guard = AuthGuard(
        burst=settings.auth_failure_burst,
        per_minute=settings.auth_failures_per_minute,
        window=settings.auth_audit_window,
        record=lambda summary: record_auth_failures(vault.db, summary, actor="promptvault serve"),
    )
    app.state.resolve = ResolveContext(
        vault=vault,
        keys=app.state.keys,
        metrics=app.state.metrics,
        ttl=settings.label_ttl,
        guard=app.state.auth_guard,
    )
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    mount_docs(app)
    _mount_ui(app)
    # Added innermost first: metrics time everything, including bodies refused for size,
    # and every answer (413s included) gets the security headers. The resolve fast path is
    # outermost: it times its own answers and sets their headers itself, so a resolve
    # crosses no other middleware of ours (HEAD goes on to the router's endpoint).
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(HttpSemanticsMiddleware, routes=app.router.routes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    if fast_resolve:
        app.add_middleware(ResolveFastPath, context=app.state.resolve)
    # HTTP server spans come from FastAPI's own OpenTelemetry support (in a worker, for the
    # signals it has a provider for: server/telemetry.py); they wrap every middleware here,
    # so fast-path resolves are traced too.
    return app


async def _audit_auth_failures(guard: AuthGuard) -> None:
    """Write each window's failed-authentication summary soon after the window ends,
    even when no further failure arrives to trigger it."""
    while True:
        await asyncio.sleep(max(guard.window / 4, 0.05))
        if guard.window_over():
            try:
                await run_in_threadpool(guard.flush)
            except Exception:  # the database may be briefly away; the next window retries
                logger.exception("could not audit failed authentications")


async def _follow_changes(app: FastAPI) -> None:
    """Start the change broadcaster with the server, not with its first stream: it drops
    this process's cached label pointers as each change event commits (from any process
    sharing the database), so a resolve never answers a moved or removed label, or an
    archived prompt, for the rest of a label TTL."""
    try:
        await broadcaster_for(app).start()
    except Exception:  # the database is away: the first stream starts it again
        logger.exception("could not start following change events")


def _start_dispatcher(vault: Vault) -> Dispatcher:
    """The webhook dispatcher of this process: it delivers only while it holds the
    database's lease, so any number of servers and workers may each run one."""
    from promptvault.webhooks.dispatcher import Dispatcher

    dispatcher = Dispatcher(vault.webhooks)
    dispatcher.start()
    return dispatcher


async def _wake_on_changes(vault: Vault, dispatcher: Dispatcher) -> None:
    """On PostgreSQL, wake the dispatcher when a change commits (``LISTEN``), so webhooks
    leave within milliseconds instead of at the next poll; SQLite keeps polling."""
    listener = vault.events.listener()
    if listener is None:
        return
    listener.start()
    try:
        while True:
            if await listener.wait(60.0):
                dispatcher.wake()
    finally:
        await listener.close()


async def _reallocate_bandits(vault: Vault, interval: float) -> None:
    """Recompute the weights of running bandit experiments every ``interval`` seconds."""
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(vault.experiments.reallocate_all)
        except Exception:  # the database may be briefly away; the next round retries
            logger.exception("could not reallocate bandit experiments")


def _mount_ui(app: FastAPI) -> None:
    # Only a missing UI package is skipped; an error inside a present one must surface.
    if importlib.util.find_spec("promptvault.server.ui") is None:
        return
    module = importlib.import_module("promptvault.server.ui")
    mount = getattr(module, "mount", None)
    if callable(mount):
        mount(app)


def create_app_from_env() -> FastAPI:
    """The app configured from ``PROMPTVAULT_*`` variables (what each uvicorn worker runs),
    with FastAPI's request telemetry for the OpenTelemetry signals this process has a
    provider for (``server/telemetry.py``)."""
    return create_app(Settings(), telemetry=serving_telemetry())


def ensure_admin_key(keys: KeyService, home: Path) -> str | None:
    """With no active key, create an ``admin`` key and store it (mode 0600) in ``home``.

    Returns the new key's plaintext (to print once), or None when keys already exist.
    """
    if keys.count_active() > 0:
        return None
    try:
        plaintext, _ = keys.create("admin", "admin", actor="promptvault serve")
    except ConflictError:
        return None  # another server sharing the database created it a moment ago
    home.mkdir(parents=True, exist_ok=True)
    path = home / ADMIN_KEY_FILE
    # Created with 0600 from the start: the secret is never readable by others, not even
    # for the moment between writing and a later chmod.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(plaintext + "\n")
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    return plaintext
