"""Database commands: ``db upgrade`` and ``db current``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output

if TYPE_CHECKING:
    from promptvault.storage.database import Database

__all__ = ["db_app"]

db_app = typer.Typer(help="Manage the database schema (Alembic migrations).", no_args_is_help=True)


def _database() -> Database:
    from promptvault.errors import InvalidInputError

    if ctx.is_remote():
        raise InvalidInputError(
            "db commands work on a database, not a server: use --db or unset PROMPTVAULT_URL",
            details={"field": "--server"},
        )
    from promptvault.storage.database import Database

    settings = ctx.settings()
    return Database(settings.resolved_database_url(), settings=settings)


@db_app.command("upgrade")
def upgrade() -> None:
    """Upgrade the database schema to this version of promptvault (safe to repeat)."""
    from promptvault.registry.audit import AuditLog
    from promptvault.storage.migrate import (
        current_revision,
        has_checkpoints_table,
        head_revision,
    )
    from promptvault.storage.migrate import upgrade as run_upgrade

    db = _database()
    try:
        before = current_revision(db.engine)
        had_checkpoints = has_checkpoints_table(db.engine)
        run_upgrade(db)
        if not had_checkpoints:  # a chain written before checkpoints gets its first
            AuditLog(db).anchor_unsigned_head(actor="promptvault db upgrade")
        head = head_revision()
    finally:
        db.dispose()
    if before == head:
        output.out(f"already at {head}")
    else:
        output.out(f"upgraded {before or '(empty)'} -> {head}")


@db_app.command("current")
def current(json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The schema revision the database is at, and the newest this version ships."""
    from promptvault.storage.migrate import current_revision, head_revision

    db = _database()
    try:
        revision = current_revision(db.engine)
    finally:
        db.dispose()
    head = head_revision()
    if ctx.want_json(json_):
        output.print_json({"current": revision, "head": head, "up_to_date": revision == head})
        return
    state = "up to date" if revision == head else "run promptvault db upgrade"
    output.out(f"{revision or '(empty)'} (head {head}: {state})")
