"""The Typer application: global options, error handling and command registration."""

from __future__ import annotations

import functools
import json
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from promptvault._extras import install_message, missing_extra
from promptvault.cli._context import State, bind_invocation, unbind_invocation
from promptvault.errors import PromptVaultError

__all__ = ["build_app", "report_error"]

HELP = """Keep prompts as files in git; push them to a registry of immutable, labelled
versions; render, compare, promote and roll them back.

\b
Examples:
  promptvault init my-prompts      create prompts/ and promptvault.toml
  promptvault push                 push files under prompts/ (unchanged ones are skipped)
  promptvault render customer_support --var company_name=Acme --var question="Hi"
  promptvault diff customer_support@production prompts/customer_support.yaml
  promptvault promote customer_support 2    move production to v2
  promptvault rollback customer_support     move production back to where it was
  promptvault demo                 load a realistic example registry to play with

The database is a SQLite file under --home (PROMPTVAULT_HOME) unless --db,
PROMPTVAULT_DATABASE_URL or promptvault.toml names another (PostgreSQL:
postgresql+psycopg://user@host/db). Exit status: 0 ok, 1 error, 2 usage.
"""


def report_error(exc: BaseException, *, as_json: bool = False) -> None:
    """Print an error for a person (or as JSON) on stderr, without a traceback."""
    from promptvault.cli import _output

    if isinstance(exc, PromptVaultError):
        if as_json:
            sys.stderr.write(json.dumps({"error": _output.jsonable(exc.to_dict())}) + "\n")
            return
        text = exc.message
        suggestions = exc.details.get("suggestions")
        if suggestions and "did you mean" not in text:
            text += f" (did you mean {', '.join(map(repr, suggestions))}?)"
        _output.err(text)
        return
    needed = missing_extra(exc)
    if needed is not None:
        extra, package = needed
        module = getattr(exc, "name", None)
        message = install_message(extra, package)
        if as_json:
            body = {
                "code": "missing_dependency",
                "message": message,
                "details": {"module": module, "extra": extra},
            }
            sys.stderr.write(json.dumps({"error": body}) + "\n")
            return
        _output.err(message)
        return
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        message = f"{where}{exc.strerror or exc}"
        if as_json:
            body = {"code": "os_error", "message": message, "details": {"file": exc.filename}}
            sys.stderr.write(json.dumps({"error": body}) + "\n")
            return
        _output.err(message)
        return
    message = f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"
    if as_json:
        sys.stderr.write(json.dumps({"error": {"code": "internal", "message": message}}) + "\n")
        return
    _output.err(message)


class _Group(TyperGroup):
    """Turns errors into a message on stderr and exit status 1 (``--debug``: traceback)."""

    def invoke(self, ctx: Any) -> Any:
        token = bind_invocation(ctx)
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if _is_click_error(exc):
                raise
            obj = ctx.obj if isinstance(ctx.obj, State) else State()
            if obj.debug:
                traceback.print_exc(file=sys.stderr)
            else:
                report_error(exc, as_json=obj.json)
            raise typer.Exit(1) from None
        finally:
            unbind_invocation(token)
            if isinstance(ctx.obj, State):
                ctx.obj.close()


def _is_click_error(exc: BaseException) -> bool:
    """Whether ``exc`` is click's own (bad arguments, usage): click prints it and exits 2.

    Told by shape, an int ``exit_code`` and a ``show()`` that prints it: typer re-exports
    click's classes in some releases and ships its own copy of click in others, and names
    the base class publicly in neither.
    """
    return isinstance(getattr(exc, "exit_code", None), int) and callable(getattr(exc, "show", None))


def _version(value: bool) -> None:
    if value:
        from promptvault import __version__

        typer.echo(f"promptvault {__version__}")
        raise typer.Exit()


def _global(  # noqa: PLR0917 - Typer passes every global option positionally
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            help="Database URL (default: PROMPTVAULT_DATABASE_URL, promptvault.toml, "
            "else a SQLite file under --home).",
        ),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option("--home", metavar="DIR", help="Data directory (PROMPTVAULT_HOME)."),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            metavar="URL",
            help="Talk to a promptvault server (PROMPTVAULT_URL; key in PROMPTVAULT_API_KEY).",
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor", metavar="NAME", help="Who is acting (PROMPTVAULT_ACTOR, else login)."
        ),
    ] = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of tables (read commands).")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    ctx.obj = State(db=db, home=home, server=server, json=json_, debug=debug, actor=actor)


@functools.cache
def build_app() -> typer.Typer:
    """Build the application once (commands are registered from their modules)."""
    from promptvault.cli import (
        audit,
        db,
        demo,
        events,
        init,
        keys,
        labels,
        prompts,
        serve,
        transfer,
    )

    app = typer.Typer(
        cls=_Group,
        name="promptvault",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    app.callback()(_global)
    app.command("init")(init.init)
    for name in ("push", "pull", "check", "list", "show", "get", "log", "diff", "render"):
        app.command(name)(getattr(prompts, f"{name}_command"))
    app.add_typer(labels.label_app, name="label")
    app.command("promote")(labels.promote)
    app.command("rollback")(labels.rollback)
    app.add_typer(audit.audit_app, name="audit")
    app.add_typer(events.events_app, name="events")
    app.command("export")(transfer.export)
    app.command("import")(transfer.import_)
    app.command("import-seed")(transfer.import_seed)
    app.command("backup")(transfer.backup)
    app.command("restore")(transfer.restore)
    app.add_typer(db.db_app, name="db")
    app.command("demo")(demo.demo)
    app.command("serve")(serve.serve)
    app.add_typer(keys.keys_app, name="keys")
    from promptvault.cli import examples as fewshot_cli

    app.add_typer(fewshot_cli.examples_app, name="examples")
    app.command("build")(fewshot_cli.build_command)
    from promptvault.cli.experiments import experiment_app

    app.add_typer(experiment_app, name="experiment")
    from promptvault.cli.datasets import datasets_app

    app.add_typer(datasets_app, name="datasets")
    from promptvault.cli.evals import eval_app

    app.add_typer(eval_app, name="eval")
    from promptvault.cli.webhooks import webhooks_app

    app.add_typer(webhooks_app, name="webhooks")
    from promptvault.cli.requests import requests_app

    app.add_typer(requests_app, name="requests")
    return app
