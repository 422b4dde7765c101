"""Storage: SQLAlchemy tables, the database helper, repositories and Alembic migrations."""
