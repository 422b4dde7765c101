"""``promptvault serve``: the HTTP API (and web UI) with uvicorn.

Before the workers start, the parent process migrates the database, loads the demo data if
asked, and on the very first start (no API key at all) creates an ``admin`` key, prints it
once and stores it with mode 0600 in the home directory for the CLI. Workers get the
database and home through ``PROMPTVAULT_*`` variables, so every worker (and every server on
the same PostgreSQL) sees one registry. SIGTERM stops accepting connections and lets running
requests finish (uvicorn's graceful shutdown). Connections get a header timeout, a bound
per worker answered with 503, and repeated errors are logged once per interval
(``server/connections.py``); in production put a reverse proxy in front (``deploy/``).
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
    header_timeout: Annotated[
        float | None,
        typer.Option(
            "--header-timeout",
            min=0,
            metavar="SECONDS",
            help="Close connections whose request head is not complete after this long "
            "[default: 10; 0 = no limit].",
        ),
    ] = None,
    keep_alive_timeout: Annotated[
        int | None,
        typer.Option(
            "--keep-alive-timeout",
            min=1,
            metavar="SECONDS",
            help="Close idle keep-alive connections after this long [default: 5].",
        ),
    ] = None,
    max_connections: Annotated[
        int | None,
        typer.Option(
            "--max-connections",
            min=1,
            help="Open connections per worker; beyond it requests get 503 [default: 1000].",
        ),
    ] = None,
    max_header_bytes: Annotated[
        int | None,
        typer.Option(
            "--max-header-bytes",
            min=1024,
            help="Largest incomplete request head buffered; beyond it 400 [default: 16384].",
        ),
    ] = None,
    log_repeat_interval: Annotated[
        float | None,
        typer.Option(
            "--log-repeat-interval",
            min=0,
            metavar="SECONDS",
            help="Log a repeated error once per this long, with a count [default: 10].",
        ),
    ] = None,
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
    from promptvault.server.connections import PROTOCOL, install_repeat_filter
    from promptvault.vault import Vault

    cfg = ctx.settings()
    if db:
        cfg = cfg.model_copy(update={"database_url": db})
    given = {
        "header_timeout": header_timeout,
        "keep_alive_timeout": keep_alive_timeout,
        "max_connections": max_connections,
        "max_header_bytes": max_header_bytes,
        "log_repeat_interval": log_repeat_interval,
    }
    cfg = cfg.model_copy(update={k: v for k, v in given.items() if v is not None})
    vault = Vault(cfg)
    try:
        if demo:
            from promptvault.demo.prompts import load_demo

            load_demo(vault, actor="demo")
            from promptvault.demo.examples import load_demo_examples

            load_demo_examples(vault.examples, actor="demo")
            from promptvault.demo.experiments import load_experiment_demo

            load_experiment_demo(vault, actor="demo")
        plaintext = ensure_admin_key(KeyService(vault.db), cfg.home)
    finally:
        vault.close()
    if plaintext:
        _announce_admin_key(plaintext, cfg.home / ADMIN_KEY_FILE)
    # Workers build their app from the environment: pass exactly what this process resolved.
    os.environ["PROMPTVAULT_DATABASE_URL"] = cfg.resolved_database_url()
    os.environ["PROMPTVAULT_HOME"] = str(cfg.home)
    for name in ("header_timeout", "max_connections", "log_repeat_interval"):
        os.environ[f"PROMPTVAULT_{name.upper()}"] = str(getattr(cfg, name))
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
        # Our h11 protocol adds the header timeout and the connection bound (see
        # server/connections.py); a string, so worker processes import it themselves.
        http=PROTOCOL,
        timeout_keep_alive=cfg.keep_alive_timeout,
        h11_max_incomplete_event_size=cfg.max_header_bytes,
    )
    install_repeat_filter(cfg.log_repeat_interval)
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
