"""``promptvault serve``: the HTTP API (and web UI) with uvicorn.

Before the workers start, the parent process migrates the database, loads the demo data if
asked, and on the very first start (no API key at all) creates an ``admin`` key, prints it
once and stores it with mode 0600 in the home directory for the CLI. Workers get the
database and home through ``PROMPTVAULT_*`` variables, so every worker (and every server on
the same PostgreSQL) sees one registry. SIGTERM stops accepting connections and lets running
requests finish (uvicorn's graceful shutdown).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output

__all__ = ["serve"]


def serve(  # noqa: PLR0917 - Typer passes every option positionally
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="TCP port.")] = 8600,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Worker processes.")] = 1,
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo prompts first.")] = False,
    db: Annotated[
        str | None, typer.Option("--db", metavar="URL", help="Database URL (else the default).")
    ] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="uvicorn log level (info, warning...).")
    ] = "info",
) -> None:
    """Serve the REST API on http://HOST:PORT (docs at /docs, metrics at /metrics).

    \b
    Examples:
      promptvault serve --demo
      promptvault serve --host 0.0.0.0 --workers 4 --db postgresql+psycopg://pv@db/pv
    """
    import uvicorn

    from promptvault.registry.keys import KeyService
    from promptvault.server.app import ADMIN_KEY_FILE, ensure_admin_key
    from promptvault.vault import Vault

    cfg = ctx.settings()
    if db:
        cfg = cfg.model_copy(update={"database_url": db})
    vault = Vault(cfg)
    try:
        if demo:
            from promptvault.registry.demo import load_demo

            load_demo(vault, actor="demo")
            from promptvault.fewshot.demo import load_demo_examples

            load_demo_examples(vault.examples, actor="demo")
            from promptvault.experiments.demo import load_experiment_demo

            load_experiment_demo(vault, actor="demo")
        plaintext = ensure_admin_key(KeyService(vault.db), cfg.home)
    finally:
        vault.close()
    if plaintext:
        _announce_admin_key(plaintext, cfg.home / ADMIN_KEY_FILE)
    # Workers build their app from the environment: pass exactly what this process resolved.
    os.environ["PROMPTVAULT_DATABASE_URL"] = cfg.resolved_database_url()
    os.environ["PROMPTVAULT_HOME"] = str(cfg.home)
    shown = f"[{host}]" if ":" in host else host
    output.note(f"promptvault serving on http://{shown}:{port} (API docs: /docs)")
    config = uvicorn.Config(
        "promptvault.server.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        timeout_graceful_shutdown=10,
        server_header=False,
    )
    if config.workers > 1:
        _run_workers(config)
    else:
        uvicorn.Server(config).run()


def _announce_admin_key(plaintext: str, path: Any) -> None:
    """Show the first admin key on a terminal; elsewhere only say where it is stored.

    Under a service manager or in a container, output goes to logs that many people and
    systems read, so the secret itself is printed only to an interactive terminal.
    """
    if sys.stderr.isatty() and sys.stdout.isatty():
        output.note(
            f"Created the first API key (role admin). It is shown only now and stored in "
            f"{path} (mode 0600):\n  {plaintext}"
        )
    else:
        output.note(
            f"Created the first API key (role admin) and stored it in {path} (mode 0600); "
            "it is not printed because the output is not a terminal."
        )


def _run_workers(config: Any) -> None:
    """Run uvicorn's worker processes on one shared listening socket."""
    from uvicorn.supervisors import Multiprocess

    Multiprocess(config, sockets=[listening_socket(config)]).run()


def listening_socket(config: Any) -> Any:
    """The workers' shared listening socket, with Nagle turned off.

    uvicorn binds the shared socket without naming the TCP protocol, so asyncio does not set
    TCP_NODELAY on the connections it accepts, and every response after the first on a
    keep-alive connection waits ~40 ms for the client's delayed ACK. Accepted sockets inherit
    TCP_NODELAY from the listening socket, so setting it there fixes every worker.
    """
    import socket

    sock = config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
