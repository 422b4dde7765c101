"""Run the Alembic migrations shipped inside the package, from code (no alembic.ini).

SQLite databases are upgraded when a Vault opens them; PostgreSQL is created on first use
when empty, and otherwise upgraded by ``promptvault db upgrade`` (:func:`upgrade`).

Opening a database that is already current must stay cheap (the CLI opens one per command),
so the head revision is read from the migration files' ``revision``/``down_revision`` lines
and the current one with one query; Alembic itself is imported only to migrate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from promptvault.storage.database import WRITE_LOCK_KEY, Database, unavailable_error
from promptvault.storage.revisions import MIGRATIONS_DIR, head_revision, known_revisions

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "downgrade",
    "has_checkpoints_table",
    "head_revision",
    "known_revisions",
    "upgrade",
]


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (and ``url`` if given)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database).

    A database that cannot be opened or reached raises ``PromptUnavailable`` saying why.
    """
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            return None if value is None else str(value)
    except DBAPIError as exc:
        url = engine.url.render_as_string(hide_password=True)
        unavailable = unavailable_error(exc, url)
        if unavailable is None:
            raise
        raise unavailable from exc


def has_checkpoints_table(engine: Engine) -> bool:
    """Whether the database already has the audit checkpoints (migration 0005)."""
    with engine.connect() as conn:
        return bool(inspect(conn).has_table("audit_checkpoints"))


def _run(db: Database, action: str, revision: str) -> None:
    from alembic import command

    config = alembic_config()
    with db.engine.connect() as conn:
        conn.execution_options(promptvault_write=True)
        with conn.begin():
            if db.is_postgres:
                # Two processes opening a fresh database at once must not both migrate it.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
            config.attributes["connection"] = conn
            getattr(command, action)(config, revision)


def upgrade(db: Database, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` in one serialised transaction."""
    _run(db, "upgrade", revision)


def downgrade(db: Database, revision: str) -> None:
    """Downgrade the database to ``revision`` (``base`` drops every table)."""
    _run(db, "downgrade", revision)
