"""A full disk and a read-only database: 503 ``unavailable``, CLI exit 1, nothing lost.

SQLite runs on a real 2 MiB tmpfs that the test fills up, and on a read-only bind mount of
it; PostgreSQL is made read-only with ``default_transaction_read_only`` on the database.
Reads keep answering; writes answer 503 with a message that says why; once the operator
frees space (or makes the database writable again) every earlier write is still there.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.client import PromptVaultClient
from promptvault.config import Settings
from promptvault.errors import PromptUnavailable
from promptvault.registry.keys import KeyService
from promptvault.server.app import create_app
from promptvault.storage.database import Database

from .conftest import _admin_dsn, cli


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:  # needs root, as in CI: never a silent skip
        raise RuntimeError(f"mount {' '.join(args)} failed: {done.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB file system, unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk))
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _seed(vault: Vault) -> dict[str, Any]:
    for i in range(3):
        vault.push("kept", template=f"kept v{i + 1} {{{{who}}}}", author="seed")
    vault.set_label("kept", "staging", 2)
    return _state(vault)


def _state(vault: Vault) -> dict[str, Any]:
    return {
        "versions": [(v.version, v.hash) for v in vault.versions("kept")],
        "labels": vault.labels("kept"),
        "history": [(e.label, e.from_version, e.to_version) for e in vault.label_history("kept")],
    }


def _assert_writes_unavailable(app: Any, reason: str) -> None:
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {app.state.test_key}"
        for method, path, body in (
            ("POST", "/v1/prompts/kept/versions", {"template": "new " + "x" * 100_000}),
            ("POST", "/v1/prompts/fresh/versions", {"template": "a new prompt"}),
            ("PUT", "/v1/prompts/kept/labels/staging", {"version": 3}),
        ):
            response = client.request(method, path, json=body)
            assert response.status_code == 503, (path, response.text)
            error = response.json()["error"]
            assert error["code"] == "unavailable"
            assert reason in error["message"], error
        # Reads still answer from what is stored.
        resolved = client.get("/v1/prompts/kept/resolve", params={"label": "staging"})
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["template"] == "kept v2 {{who}}"


def _assert_cli_push_fails(url: str, tmp_path: Path, reason: str) -> None:
    prompt_file = tmp_path / "kept.yaml"
    prompt_file.write_text("name: kept\ntemplate: pushed from the CLI\n")
    done = subprocess.run(
        cli("--db", url, "push", str(prompt_file)),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert reason in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


def _admin_key(vault: Vault) -> str:
    return KeyService(vault.db).create("writer", "admin", actor="seed")[0]


def _app_with_key(vault: Vault, key: str) -> Any:
    app = create_app(vault)
    app.state.test_key = key
    return app


def test_full_disk_answers_503_and_loses_nothing(small_disk: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{small_disk / 'vault.db'}"
    with Vault(Settings(database_url=url)) as vault:
        before = _seed(vault)
        app = _app_with_key(vault, _admin_key(vault))
        filler = small_disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:  # fill the file system to the last block
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        _assert_writes_unavailable(app, "disk is full")
        _assert_cli_push_fails(url, tmp_path, "disk is full")
        assert _state(vault) == before

        filler.unlink()  # the operator frees space: writes work again, nothing was lost
        vault.push("kept", template="after the disk was freed")
        after = _state(vault)
        assert after["versions"][1:] == before["versions"]
        assert vault.audit.verify().ok


def test_read_only_sqlite_answers_503_and_loses_nothing(small_disk: Path, tmp_path: Path) -> None:
    writable = Vault(Settings(database_url=f"sqlite:///{small_disk / 'vault.db'}"))
    before = _seed(writable)
    key = _admin_key(writable)
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    _mount("--bind", str(small_disk), str(read_only))
    try:
        _mount("-o", "remount,bind,ro", str(read_only))
        url = f"sqlite:///{read_only / 'vault.db'}"
        with Vault(Settings(database_url=url)) as vault:
            _assert_writes_unavailable(_app_with_key(vault, key), "read-only")
            _assert_cli_push_fails(url, tmp_path, "read-only")
            assert _state(vault) == before
        # With no writer left, the read-only copy cannot even be opened: still a clear error.
        writable.close()
        done = subprocess.run(
            cli("--db", url, "show", "kept"), capture_output=True, text=True, check=False
        )
        assert done.returncode == 1, done.stdout
        assert "database" in done.stderr and "internal error" not in done.stderr, done.stderr
    finally:
        writable.close()
        subprocess.run(["umount", "-l", str(read_only)], check=False)
    with Vault(Settings(database_url=f"sqlite:///{small_disk / 'vault.db'}")) as vault:
        assert _state(vault) == before
        assert vault.audit.verify().ok


def _set_read_only(url: str, on: bool) -> None:
    name = url.rpartition("/")[2]
    setting = "SET default_transaction_read_only = on" if on else "RESET ALL"
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" {setting}')


def test_read_only_postgres_answers_503_and_loses_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    with Vault(Settings(database_url=postgres_url)) as vault:
        before = _seed(vault)
        key = _admin_key(vault)
    _set_read_only(postgres_url, True)  # applies to every new connection
    try:
        with Vault(Settings(database_url=postgres_url)) as vault:
            _assert_writes_unavailable(_app_with_key(vault, key), "read-only")
            _assert_cli_push_fails(postgres_url, tmp_path, "read-only")
            assert _state(vault) == before
    finally:
        _set_read_only(postgres_url, False)
    with Vault(Settings(database_url=postgres_url)) as vault:
        assert _state(vault) == before
        vault.push("kept", template="after the database was writable again")
        assert vault.audit.verify().ok


def test_full_disk_through_a_real_server(
    small_disk: Path, tmp_path: Path, make_server: Any
) -> None:
    """The SDK, the remote CLI and an application see the same clear 503 from ``serve``."""
    server = make_server(f"sqlite:///{small_disk / 'vault.db'}")
    app_client = PromptVaultClient(
        server.base, server.key, retries=0, fallback_dir=str(tmp_path / "fallback")
    )
    app_client.push("kept", template="kept v1 {{who}}")
    assert app_client.render("kept", {"who": "Ada"}) == "kept v1 Ada"
    fd = os.open(small_disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)

    with pytest.raises(PromptUnavailable, match="disk is full") as raised:
        app_client.push("kept", template="new " + "x" * 100_000)
    assert raised.value.details["status"] == 503
    assert app_client.render("kept", {"who": "Ada"}) == "kept v1 Ada"  # reads go on
    prompt_file = tmp_path / "kept.yaml"
    prompt_file.write_text("name: kept\ntemplate: pushed from the CLI\n")
    done = subprocess.run(
        cli("--server", server.base, "push", str(prompt_file)),
        env={**os.environ, "PROMPTVAULT_API_KEY": server.key},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "disk is full" in done.stderr and "internal error" not in done.stderr, done.stderr

    (small_disk / "filler").unlink()
    assert app_client.push("kept", template="after the disk was freed").version.version == 2
    app_client.close()


def test_unreachable_database_is_unavailable() -> None:
    """No database server at all: every way in says unavailable, never a raw driver error."""
    url = "postgresql+psycopg://postgres@127.0.0.1:1/gone"  # nothing listens on port 1
    db = Database(url)
    for session in (db.read, db.snapshot):
        with (
            pytest.raises(PromptUnavailable, match="database error") as raised,
            session() as s,
        ):
            s.execute(text("SELECT 1"))
        assert raised.value.details["url"] == url
    with pytest.raises(PromptUnavailable, match="database error"):
        Vault(Settings(database_url=url))
    db.dispose()
