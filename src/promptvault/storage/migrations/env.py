"""Alembic environment: runs inside promptvault on a connection it hands over.

``promptvault.storage.migrate`` passes an open connection in ``config.attributes``; there is
no alembic.ini. The target metadata is the ORM's, so autogenerate and the schema test see
every table appended to ``tables.py``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from promptvault.storage.tables import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate on the handed-over connection, or on a fresh one from the configured URL."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("promptvault migrations run online only")
run_migrations_online()
