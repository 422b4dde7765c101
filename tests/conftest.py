"""Shared fixtures: a temporary home, real SQLite files and fresh PostgreSQL databases.

In CI (``CI`` set) nothing may skip: a skipped test fails the session, and a PostgreSQL that
cannot be reached is an error rather than a skip.

``sqlite_url``, ``postgres_url`` and ``database_url`` hold the newest schema and nothing else:
each is a copy of one database migrated once per test process, which is what a Vault opening
an empty database would make of it, at a fraction of the cost of running every migration for
every test. Tests about an empty database (migrations, restores, first start) use the
``empty_*`` fixtures.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

import pytest

POSTGRES_URL = os.environ.get(
    "PROMPTVAULT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = bool(os.environ.get("CI"))

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if IN_CI and _skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if IN_CI and _skipped:
        terminalreporter.write_line(
            f"FAILED: {len(_skipped)} test(s) skipped; CI runs every test", red=True
        )


# A test module that shares a module-scoped fixture: its own, or the browser kit's server and
# Chromium (tests/ui/browser_kit.py).
_SHARED_FIXTURE = re.compile(r'scope="module"|\bbrowser_kit\b')


@functools.cache
def _shares_module_fixtures(path: Path) -> bool:
    try:
        return bool(_SHARED_FIXTURE.search(path.read_text(encoding="utf-8")))
    except OSError:
        return False


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (``-n``), every test goes to whichever worker is free, except that a
    module sharing a module-scoped fixture runs whole on one worker: its served app, Chromium
    or model is set up once, and its tests run in order as without workers. Groups go first,
    largest first. (``--dist loadgroup`` would group by marker, but pytest-xdist 3.8 cannot
    rename tests under pytest 9, which it does to group them.)"""
    if config.getoption("dist") != "load":
        return None  # a --dist asked for explicitly
    from xdist.scheduler import LoadScopeScheduling

    root = config.rootpath

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.partition("::")[0]
            return module if _shares_module_fixtures(root / module) else nodeid

    return SharedFixtureScheduling(config, log)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own PROMPTVAULT_HOME and no remote-mode leftovers."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("PROMPTVAULT_HOME", str(path))
    for var in ("PROMPTVAULT_DATABASE_URL", "PROMPTVAULT_URL", "PROMPTVAULT_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return path


def _migrate(url: str, home: Path) -> None:
    """Open ``url`` once with a Vault, which migrates it to the newest schema."""
    from promptvault import Vault
    from promptvault.config import Settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROMPTVAULT_HOME", str(home))
        Vault(Settings(database_url=url)).close()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest schema, copied by :func:`sqlite_url`."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "vault.db"
    _migrate(f"sqlite:///{path}", folder)
    leftovers = sorted(p.name for p in folder.iterdir() if p.name != "vault.db")
    assert not leftovers, f"the template left files beside it: {leftovers}"
    return path


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in the test's temp dir that does not exist yet (created on connect)."""
    return f"sqlite:///{tmp_path / 'vault.db'}"


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A SQLite file in the test's temp dir, at the newest schema and holding nothing."""
    path = tmp_path / "vault.db"
    shutil.copy(_sqlite_template, path)  # with its mode (0600, as promptvault creates it)
    return f"sqlite:///{path}"


def _admin_dsn() -> str:
    return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(_admin_dsn(), connect_timeout=3):
            return True
    except Exception as exc:  # any failure to connect means "not available"
        if IN_CI:
            raise RuntimeError(f"PostgreSQL is required in CI: {exc}") from exc
        return False


def _base_url() -> str:
    return POSTGRES_URL.rpartition("/")[0]


def _create_database(template: str | None = None) -> str:
    import psycopg

    name = f"pv_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    return name


def _drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Dropper:
    """Drops the databases of finished tests in background threads.

    A DROP DATABASE waits for a checkpoint, which can take seconds on a busy machine; the next
    test need not wait for it, and drops waiting at the same time share one checkpoint. Every
    drop has finished, and any that failed has failed the session, before the session ends.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="drop-database")
        self._pending: list[Future[None]] = []

    def drop(self, name: str) -> None:
        self._pending.append(self._pool.submit(_drop_database, name))

    def finish(self) -> None:
        self._pool.shutdown(wait=True)
        for future in self._pending:
            future.result()  # raises what a drop raised


def _without_postgres() -> NoReturn:
    """A test that needs PostgreSQL fails in CI without it; elsewhere it is skipped."""
    if IN_CI:
        pytest.fail("PostgreSQL is required in CI and is not reachable")
    pytest.skip("PostgreSQL not reachable")


@pytest.fixture(scope="session")
def _dropper() -> Iterator[_Dropper]:
    dropper = _Dropper()
    yield dropper
    dropper.finish()


@pytest.fixture(scope="session")
def _postgres_template(
    postgres_available: bool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str | None]:
    """A PostgreSQL database migrated to the newest schema, the template of
    :func:`postgres_url` (one per test process, so parallel workers never share it)."""
    if not postgres_available:
        yield None
        return
    name = _create_database()
    try:
        _migrate(f"{_base_url()}/{name}", tmp_path_factory.mktemp("postgres-template"))
        yield name
    finally:
        _drop_database(name)


@pytest.fixture
def empty_postgres_url(postgres_available: bool, _dropper: _Dropper) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if not postgres_available:
        _without_postgres()
    name = _create_database()
    try:
        yield f"{_base_url()}/{name}"
    finally:
        _dropper.drop(name)


@pytest.fixture
def postgres_url(_postgres_template: str | None, _dropper: _Dropper) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, at the newest schema and holding nothing."""
    if _postgres_template is None:
        _without_postgres()
    name = _create_database(_postgres_template)
    try:
        yield f"{_base_url()}/{name}"
    finally:
        _dropper.drop(name)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on a SQLite file and once on a PostgreSQL database (newest schema)."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on an empty SQLite file and once on an empty PostgreSQL database."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("empty_sqlite_url"))
    return str(request.getfixturevalue("empty_postgres_url"))
