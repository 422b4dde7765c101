"""The Vault entry point: default location, explicit URLs, lifecycle."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptvault import Vault
from promptvault.config import Settings
from promptvault.errors import PromptUnavailable
from promptvault.storage.database import Database
from promptvault.storage.migrate import current_revision, head_revision


def test_open_default_creates_sqlite_in_home(home: Path) -> None:
    with Vault.open() as vault:
        vault.push("hello", template="Hello {{who}}")
        assert vault.render("hello", {"who": "world"}) == "Hello world"
        assert vault.settings.home == home
    assert (home / "promptvault.db").exists()
    with Vault.open() as again:  # reopening finds the data and does not re-migrate
        assert again.get("hello").version == 1


def test_open_with_url_and_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'x.db'}"
    vault = Vault.open(url, settings=Settings(label_ttl=0))
    assert vault.settings.database_url == url
    assert vault.settings.label_ttl == 0
    assert "x.db" in repr(vault)
    vault.close()


def test_postgres_is_created_when_empty_but_not_silently_upgraded(empty_postgres_url: str) -> None:
    with Vault.open(empty_postgres_url) as vault:
        vault.push("p", template="x")
    db = Database(empty_postgres_url)
    try:
        # Pretend the database was left at a revision this code does not know as its head.
        with db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000_older'")
        assert current_revision(db.engine) == "0000_older"
    finally:
        db.dispose()
    with pytest.raises(PromptUnavailable) as err:
        Vault.open(empty_postgres_url)
    assert "newer promptvault" in err.value.message
    db = Database(empty_postgres_url)
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001_initial'")
    finally:
        db.dispose()
    assert head_revision() != "0001_initial"  # later migrations exist: 0001 is older
    with pytest.raises(PromptUnavailable) as err:
        Vault.open(empty_postgres_url)
    assert "promptvault db upgrade" in err.value.message
