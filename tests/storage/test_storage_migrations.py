"""Migrations: an empty database migrated to head has exactly the ORM's schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from promptvault.storage.database import Database
from promptvault.storage.migrate import current_revision, head_revision, upgrade
from promptvault.storage.tables import Base


def test_migrated_schema_equals_metadata(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert current_revision(db.engine) is None
        upgrade(db)
        assert current_revision(db.engine) == head_revision()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
        assert diffs == []
        tables = set(inspect(db.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        # Upgrading again is a no-op.
        upgrade(db)
        assert current_revision(db.engine) == head_revision()
    finally:
        db.dispose()


def test_sqlite_pragmas(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        db.dispose()


def test_head_matches_alembic_and_downgrade_to_base(sqlite_url: str) -> None:
    from alembic.script import ScriptDirectory

    from promptvault.storage.migrate import alembic_config, downgrade

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
    db = Database(sqlite_url)
    try:
        upgrade(db)
        downgrade(db, "base")
        assert current_revision(db.engine) is None
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(db)
        assert current_revision(db.engine) == head_revision()
    finally:
        db.dispose()
