"""Run the Alembic migrations shipped inside the package, from code (no alembic.ini).

SQLite databases are upgraded when a Vault opens them; PostgreSQL is created on first use
when empty, and otherwise upgraded by ``promptvault db upgrade`` (:func:`upgrade`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from promptvault.storage.database import WRITE_LOCK_KEY, Database

__all__ = ["MIGRATIONS_DIR", "alembic_config", "current_revision", "head_revision", "upgrade"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (and ``url`` if given)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest migration shipped with this version of promptvault."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` in one serialised transaction."""
    config = alembic_config()
    with db.engine.connect() as conn:
        conn.execution_options(promptvault_write=True)
        with conn.begin():
            if db.is_postgres:
                # Two processes opening a fresh database at once must not both migrate it.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
