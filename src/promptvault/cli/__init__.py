"""The ``promptvault`` command line.

``main()`` is the console-script entry point; ``app`` is the Typer application (built on first
access). Startup stays quick: ``promptvault --version`` answers before Typer is imported, and
``--help`` loads only Typer and the command modules, whose heavy imports (the database layer,
the server, the templating engines) happen inside the commands that need them; the common
case of a few commands on a local database is answered before any of them (``_QUICK``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

__all__ = ["app", "main"]

if TYPE_CHECKING:
    import typer

    app: typer.Typer


# Commands with a quick path (cli/_fastpath.py): the module and the function that runs the
# command and returns its exit status, or None when the full command must answer.
_QUICK = {
    "render": ("promptvault.cli._fastread", "render_fast"),
    "show": ("promptvault.cli._fastread", "show_fast"),
    "get": ("promptvault.cli._fastread", "get_fast"),
    "list": ("promptvault.cli._fastlist", "list_fast"),
    "check": ("promptvault.cli._fastfiles", "check_fast"),
    "push": ("promptvault.cli._fastfiles", "push_fast"),
}


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and exit with its status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        # The commonest health check of an install; answering it needs no Typer at all.
        from promptvault import __version__

        sys.stdout.write(f"promptvault {__version__}\n")
        sys.stdout.flush()
        raise SystemExit(0)
    quick = _QUICK.get(args[0]) if args else None
    if quick is not None:
        # The common case of these commands needs neither Typer nor the database layer.
        from importlib import import_module

        status = getattr(import_module(quick[0]), quick[1])(args[1:])
        if status is not None:
            sys.stdout.flush()
            raise SystemExit(status)
    from promptvault.cli._app import build_app

    build_app()(args=args, prog_name="promptvault")


def __getattr__(name: str) -> Any:
    if name == "app":
        from promptvault.cli._app import build_app

        return build_app()
    raise AttributeError(f"module 'promptvault.cli' has no attribute {name!r}")
