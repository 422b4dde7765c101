"""The ``promptvault`` command line.

``main()`` is the console-script entry point; ``app`` is the Typer application (built on first
access). Startup stays quick: ``promptvault --version`` answers before Typer is imported, and
``--help`` loads only Typer and the command modules, whose heavy imports (the database layer,
the server, the templating engines) happen inside the commands that need them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

__all__ = ["app", "main"]

if TYPE_CHECKING:
    import typer

    app: typer.Typer


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and exit with its status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        # The commonest health check of an install; answering it needs no Typer at all.
        from promptvault import __version__

        sys.stdout.write(f"promptvault {__version__}\n")
        sys.stdout.flush()
        raise SystemExit(0)
    if args[:1] in (["render"], ["show"]):
        # Reading one local prompt needs neither Typer nor the database layer.
        from promptvault.cli._fastread import render_fast, show_fast

        if (render_fast if args[0] == "render" else show_fast)(args[1:]):
            raise SystemExit(0)
    from promptvault.cli._app import build_app

    build_app()(args=args, prog_name="promptvault")


def __getattr__(name: str) -> Any:
    if name == "app":
        from promptvault.cli._app import build_app

        return build_app()
    raise AttributeError(f"module 'promptvault.cli' has no attribute {name!r}")
