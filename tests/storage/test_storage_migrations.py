"""Migrations: an empty database migrated to head has exactly the ORM's schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from promptvault.storage.database import Database
from promptvault.storage.migrate import current_revision, head_revision, upgrade
from promptvault.storage.tables import Base


def test_migrated_schema_equals_metadata(empty_database_url: str) -> None:
    db = Database(empty_database_url)
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


def test_sqlite_pragmas(empty_sqlite_url: str) -> None:
    db = Database(empty_sqlite_url)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        db.dispose()


def test_head_matches_alembic_and_downgrade_to_base(empty_sqlite_url: str) -> None:
    from alembic.script import ScriptDirectory

    from promptvault.storage.migrate import alembic_config, downgrade

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
    db = Database(empty_sqlite_url)
    try:
        upgrade(db)
        downgrade(db, "base")
        assert current_revision(db.engine) is None
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(db)
        assert current_revision(db.engine) == head_revision()
    finally:
        db.dispose()


def _before(suffix: str) -> str:
    """The revision just before the migration whose id ends with ``suffix``."""
    from alembic.script import ScriptDirectory

    from promptvault.storage.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    (found,) = [r for r in script.walk_revisions() if r.revision.endswith(suffix)]
    assert isinstance(found.down_revision, str)
    return found.down_revision


def test_phases_and_buckets_are_rebuilt_for_experiments_from_before(sqlite_url: str) -> None:
    from promptvault import Vault
    from promptvault.config import Settings
    from promptvault.storage.migrate import downgrade

    vault = Vault(Settings(database_url=sqlite_url))
    try:
        vault.push("p", template="a", author="t")
        vault.push("p", template="b", author="t")
        vault.experiments.create(
            "e",
            prompt="p",
            variants=[{"name": "c", "version": 1, "weight": 90}, {"name": "t", "version": 2}],
            primary_metric={"name": "m"},
            start=True,
        )
        vault.experiments.ingest(
            [{"type": "exposure", "experiment": "e", "unit_id": f"u{i}"} for i in range(40)]
        )
        vault.experiments.ramp("e", {"c": 50, "t": 50}, actor="bob")
        vault.experiments.ramp("e", [20, 80], actor="carol")
        db = vault.db

        def state() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
            with db.engine.connect() as conn:
                phases = conn.exec_driver_sql(
                    "SELECT epoch, weights, actor FROM experiment_phases ORDER BY epoch"
                ).all()
                units = conn.exec_driver_sql(
                    "SELECT unit_id, bucket FROM experiment_units ORDER BY unit_id"
                ).all()
            return [tuple(r) for r in phases], [tuple(r) for r in units]

        before = state()
        assert [p[2] for p in before[0]] == ["", "bob", "carol"]
        downgrade(db, _before("_experiment_phases"))
        upgrade(db)
        assert state() == before
    finally:
        vault.close()
