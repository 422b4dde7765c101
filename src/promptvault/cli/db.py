"""Database commands: ``db upgrade`` and ``db current``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output

if TYPE_CHECKING:
    from promptvault.config import Settings

__all__ = ["db_app"]

db_app = typer.Typer(help="Manage the database schema (Alembic migrations).", no_args_is_help=True)


def _settings() -> Settings:
    from promptvault.errors import InvalidInputError

    if ctx.is_remote():
        raise InvalidInputError(
            "db commands work on a database, not a server: use --db or unset PROMPTVAULT_URL",
            details={"field": "--server"},
        )
    return ctx.settings()


@db_app.command("upgrade")
def upgrade() -> None:
    """Upgrade the database schema to this version of promptvault (safe to repeat)."""
    from promptvault.vault import upgrade_schema

    before = upgrade_schema(_settings())
    if before.up_to_date:
        output.out(f"already at {before.head}")
    else:
        output.out(f"upgraded {before.current or '(empty)'} -> {before.head}")


@db_app.command("current")
def current(json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The schema revision the database is at, and the newest this version ships."""
    from promptvault.vault import schema_state

    state = schema_state(_settings())
    revision, head = state.current, state.head
    if ctx.want_json(json_):
        output.print_json({"current": revision, "head": head, "up_to_date": state.up_to_date})
        return
    advice = "up to date" if state.up_to_date else "run promptvault db upgrade"
    output.out(f"{revision or '(empty)'} (head {head}: {advice})")
