"""Engines, sessions and the write-transaction helper, for SQLite and PostgreSQL.

SQLite runs in WAL mode with foreign keys on and a busy timeout. pysqlite's own transaction
handling is switched off (the documented SQLAlchemy recipe) so that a write transaction starts
with ``BEGIN IMMEDIATE``: writers queue on the database lock at the start instead of failing
when a reader tries to upgrade. On PostgreSQL a *serial* write transaction first takes one
transaction-scoped advisory lock, which serialises it with every other writer. Writers that
do not need that (event ingestion, usage counts, prompt pushes) run without it: their
counters are atomic upserts, a push orders itself on a per-prompt lock
(:func:`lock_prompt`) and the unique constraint on (prompt, version), and whatever appends
to the audit chain takes the serial lock at the append (``storage/audit.py``), so the chain
is still computed from committed state and never races.

:meth:`Database.write` runs a unit of work and retries it, with jittered backoff, on the
errors that mean "another writer got there first" (serialization failures, deadlocks, unique
violations, a locked database); callers never see those.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from promptvault._extras import with_install_hint
from promptvault.config import Settings, default_actor
from promptvault.errors import PromptUnavailable, VersionConflictError
from promptvault.storage import guard
from promptvault.storage.change_events import APPENDED_INFO_KEY
from promptvault.storage.checkpoints import ANCHOR_INFO_KEY, AuditAnchor

if TYPE_CHECKING:
    from promptvault.storage.unit_of_work import UnitOfWork

__all__ = [
    "ACTOR_INFO_KEY",
    "LOCKED_INFO_KEY",
    "WRITE_LOCK_KEY",
    "Database",
    "is_retryable",
    "lock_prompt",
    "unavailable_error",
]

T = TypeVar("T")

log = logging.getLogger(__name__)

# The key of the PostgreSQL advisory lock every promptvault write transaction holds.
WRITE_LOCK_KEY = 0x70765F7772  # "pv_wr"

# The class (first key) of the per-prompt advisory locks pushes take on PostgreSQL.
PROMPT_LOCK_CLASS = 0x7076  # "pv"

# Set in ``Session.info`` once the session's transaction holds the write lock.
LOCKED_INFO_KEY = "promptvault_write_locked"
# Set in ``Session.info``: who a write is recorded as when its caller named nobody.
ACTOR_INFO_KEY = "promptvault_default_actor"
_WRITE_OPTION = "promptvault_write"
# SQLSTATEs that mean "try again": serialization failure, deadlock, unique violation
# (two writers creating the same row), lock not available.
_RETRY_SQLSTATES = frozenset({"40001", "40P01", "23505", "55P03"})
_SQLITE_RETRY_TEXT = ("database is locked", "database is busy", "database table is locked")
# SQLSTATE classes and codes that mean "the database cannot take this now", whatever DBAPI
# exception class the driver picks: connection failures (08), insufficient resources such
# as a full disk (53), operator intervention (57), system errors (58), and a read-only
# transaction or server (25006).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57", "58")
_UNAVAILABLE_SQLSTATES = frozenset({"25006"})


def _create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists.

    The database holds key digests and the audit log: nobody else on the machine should
    read it. SQLite creates its ``-wal`` and ``-shm`` files with the database file's mode,
    so creating the file private first makes all three private.
    """
    if str(path).startswith("file:"):
        return  # a URI filename: SQLite opens it itself
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is a transient conflict that a fresh attempt may not hit."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in _RETRY_SQLSTATES:
        return True
    message = str(orig).lower()
    if any(text_ in message for text_ in _SQLITE_RETRY_TEXT):
        return True
    # SQLite reports unique violations as IntegrityError "UNIQUE constraint failed".
    return "unique constraint failed" in message


def unavailable_error(exc: DBAPIError, url: str) -> PromptUnavailable | None:
    """The ``unavailable`` error for a database failure that is not the request's fault.

    A full disk, a read-only database or a lost connection is the operator's to fix, so
    clients get 503 with a message that says which, instead of an internal error.
    """
    orig = exc.orig
    sqlstate = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
    message = str(orig).strip()
    lowered = message.lower()
    if sqlstate == "25006" or "readonly" in lowered or "read-only" in lowered:
        reason = "the database is read-only"
    elif sqlstate == "53100" or "disk is full" in lowered or "no space left" in lowered:
        reason = "the database's disk is full"
    elif (
        sqlstate in _UNAVAILABLE_SQLSTATES
        or sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES
        or isinstance(exc, OperationalError)
    ):
        reason = "database error"
    else:
        return None
    details: dict[str, Any] = {"url": url}
    if sqlstate:
        details["sqlstate"] = sqlstate
    return PromptUnavailable(f"{reason}: {message}", details=details)


class Database:
    """One engine plus the session helpers every repository uses.

    ``read()`` gives a session in a read transaction; ``write(fn)`` runs ``fn(session)`` in a
    serialised write transaction, retried on transient conflicts, and commits it.
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        max_attempts: int = 30,
        audit_anchor: AuditAnchor | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.url = url
        self._audit_anchor = audit_anchor
        self._settings = settings
        # Who audit entries and label events name when the caller gave no actor.
        self.default_actor = default_actor()
        self.max_attempts = max_attempts
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self.is_sqlite = self.dialect == "sqlite"
        self.is_postgres = self.dialect == "postgresql"
        self.engine: Engine = self._create_engine(url, echo=echo)
        self._thread_lock = threading.Lock()
        self._lock_file: IO[bytes] | None = None
        self._lock_pid = -1
        self._lock_path: Path | None = None
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            self._lock_path = Path(parsed.database + ".writelock")
        self._event_listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()

    def _create_engine(self, url: str, *, echo: bool) -> Engine:
        if not self.is_sqlite:
            try:
                pg = create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5)
            except ModuleNotFoundError as exc:  # the driver comes with the postgres extra
                raise with_install_hint(exc) from exc
            guard.install(pg)
            return pg
        parsed = make_url(url)
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            _create_private(Path(parsed.database))
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30.0},
        )

        guard.install(engine)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control away from pysqlite so BEGIN IMMEDIATE can be emitted.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            if conn.get_execution_options().get(_WRITE_OPTION):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        return engine

    @property
    def audit_anchor(self) -> AuditAnchor:
        """The key (and witness) audit appends sign their checkpoints with.

        Given by the owner, or built on first use (the first write or verify, so a process
        that only reads never needs the key file) from the settings given (``Vault``'s), else
        the environment's.
        """
        if self._audit_anchor is None:
            self._audit_anchor = AuditAnchor.from_settings(self._settings or Settings())
        return self._audit_anchor

    @audit_anchor.setter
    def audit_anchor(self, anchor: AuditAnchor) -> None:
        self._audit_anchor = anchor

    def _anchor_source(self) -> AuditAnchor:
        return self.audit_anchor

    # --- sessions ---------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session in a read transaction, ended (rolled back) on exit.

        Closing rather than rolling back the session keeps loaded rows readable afterwards.
        """
        with (
            self._unavailable_on_error(),
            self.engine.connect() as conn,
            Session(bind=conn, expire_on_commit=False) as s,
        ):
            yield s

    @contextmanager
    def _unavailable_on_error(self) -> Iterator[None]:
        """Turn a storage failure that is not the caller's fault into ``PromptUnavailable``."""
        try:
            yield
        except DBAPIError as exc:
            unavailable = unavailable_error(exc, self.safe_url)
            if unavailable is None:
                raise
            raise unavailable from exc

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read session whose every query sees one consistent state of the database.

        PostgreSQL runs it as a ``REPEATABLE READ READ ONLY`` transaction (plain reads see
        each statement's own snapshot); a SQLite read transaction in WAL mode already keeps
        the snapshot its first read took.
        """
        with self._unavailable_on_error(), self.engine.connect() as conn:
            if self.is_postgres:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with Session(bind=conn, expire_on_commit=False) as s:
                if self.is_postgres:
                    s.execute(text("SET TRANSACTION READ ONLY"))
                yield s

    @contextmanager
    def transaction(self, *, serial: bool = True, durable: bool = True) -> Iterator[Session]:
        """One write transaction, committed on success, rolled back on error.

        ``serial`` (on PostgreSQL) takes the cluster's write lock up front, ordering this
        transaction after every other serial one; without it the transaction runs beside
        others and takes that lock only if it appends to the audit chain. SQLite always has
        one writer at a time. No retry here: use :meth:`write` unless the caller retries.

        ``durable=False`` (on PostgreSQL) commits without waiting for the WAL to reach the
        disk (``synchronous_commit = off``): still atomic and visible at once, but a crash
        of the database server may lose the last such commits. For bookkeeping that is
        redone when lost (the webhook delivery log and cursors: an unrecorded delivery is
        sent again), so that it does not add a disk flush to every writer's wait.
        """
        with self._sqlite_writer_lock(), self.engine.connect() as conn:
            conn.info.pop(APPENDED_INFO_KEY, None)
            conn.execution_options(**{_WRITE_OPTION: True})
            with Session(bind=conn, expire_on_commit=False) as session:
                session.begin()
                try:
                    if self.is_postgres and not durable:
                        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
                    if self.is_postgres and serial:
                        session.execute(
                            text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY}
                        )
                    session.info[LOCKED_INFO_KEY] = serial or not self.is_postgres
                    session.info[ANCHOR_INFO_KEY] = self._anchor_source
                    session.info[ACTOR_INFO_KEY] = self.default_actor
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    conn.info.pop(APPENDED_INFO_KEY, None)
                    raise
            appended = conn.info.pop(APPENDED_INFO_KEY, False)
        # Told after the write lock is released: a listener starting work at once does not
        # queue behind, or hold up, the next writer.
        if appended:
            self._events_committed()

    def on_events_committed(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` each time a write transaction of this process that appended
        change events has committed, in the writing thread, right after the commit; returns
        the function that stops it. Listeners must be quick (set an event, no I/O).

        Other processes' commits are not seen here: readers of the outbox also poll it (and
        on PostgreSQL ``LISTEN``); this only spares them waiting for the next look.
        """
        with self._listeners_lock:
            self._event_listeners = [*self._event_listeners, listener]

        def stop() -> None:
            with self._listeners_lock:
                self._event_listeners = [x for x in self._event_listeners if x is not listener]

        return stop

    def _events_committed(self) -> None:
        for listener in self._event_listeners:
            try:
                listener()
            except Exception:  # the write itself succeeded; a listener must not undo that
                log.warning("a committed-event listener failed", exc_info=True)

    @contextmanager
    def _sqlite_writer_lock(self) -> Iterator[None]:
        """Queue SQLite writers on a lock file instead of SQLite's sleeping busy handler.

        SQLite's busy handler polls with sleeps of up to 100 ms, so many writers waiting on
        ``BEGIN IMMEDIATE`` spend most of their time asleep. An exclusive ``flock`` on a file
        beside the database blocks in the kernel and wakes the next writer the moment the
        lock is free. Where ``fcntl`` does not exist the busy timeout alone applies.
        """
        if self._lock_path is None or fcntl is None:
            yield
            return
        with self._thread_lock:
            if self._lock_pid != os.getpid():  # never share an fd's lock with a forked child
                try:
                    _create_private(self._lock_path)
                    self._lock_file = open(self._lock_path, "a+b")  # noqa: SIM115
                except OSError:
                    # A read-only directory: queue on SQLite's busy handler alone, and let
                    # SQLite itself report why the write cannot happen.
                    yield
                    return
                self._lock_pid = os.getpid()
            assert self._lock_file is not None
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)

    def write(self, fn: Callable[[Session], T], *, serial: bool = True, durable: bool = True) -> T:
        """Run ``fn(session)`` in a write transaction, retrying transient conflicts.

        ``fn`` may run more than once, so it must not have side effects outside the session.
        ``serial=False`` is for work that stays correct beside other writers (atomic
        counters, inserts guarded by unique constraints, pushes): see :meth:`transaction`,
        which also says when ``durable=False`` is right.
        """
        delay = 0.002
        for attempt in range(1, self.max_attempts + 1):
            try:
                with self.transaction(serial=serial, durable=durable) as session:
                    return fn(session)
            except DBAPIError as exc:
                if not is_retryable(exc) or attempt == self.max_attempts:
                    if is_retryable(exc):
                        raise VersionConflictError(
                            "the write kept conflicting with concurrent writers",
                            details={"attempts": attempt},
                        ) from exc
                    unavailable = unavailable_error(exc, self.safe_url)
                    if unavailable is not None:
                        raise unavailable from exc
                    raise
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.25)
        raise AssertionError("unreachable")  # pragma: no cover

    def write_work(
        self, fn: Callable[[UnitOfWork], T], *, serial: bool = True, durable: bool = True
    ) -> T:
        """:meth:`write` for services that take a :class:`UnitOfWork`, not a session."""
        from promptvault.storage.unit_of_work import UnitOfWork  # imports this module

        return self.write(lambda session: fn(UnitOfWork(session)), serial=serial, durable=durable)

    @contextmanager
    def read_work(self) -> Iterator[UnitOfWork]:
        """:meth:`read` as a :class:`UnitOfWork`.

        The same steps as :meth:`read`, not a wrapper around it: an API key or session
        check that misses its cache comes here, and one generator less is its whole cost.
        """
        from promptvault.storage.unit_of_work import UnitOfWork  # imports this module

        with (
            self._unavailable_on_error(),
            self.engine.connect() as conn,
            Session(bind=conn, expire_on_commit=False) as s,
        ):
            yield UnitOfWork(s)

    @contextmanager
    def snapshot_work(self) -> Iterator[UnitOfWork]:
        """:meth:`snapshot` as a :class:`UnitOfWork`: every read sees one state."""
        from promptvault.storage.unit_of_work import UnitOfWork  # imports this module

        with self.snapshot() as session:
            yield UnitOfWork(session)

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        """Close every pooled connection (and the writer lock file)."""
        self.engine.dispose()
        if self._lock_file is not None and self._lock_pid == os.getpid():
            self._lock_file.close()
        self._lock_file = None
        self._lock_pid = -1


def lock_prompt(session: Session, name: str) -> None:
    """Order this transaction after any other writing prompt ``name`` (PostgreSQL only).

    A transaction-scoped advisory lock on the name's hash: pushes to one prompt queue here,
    so each reads the newest committed version before numbering its own; pushes to other
    prompts pass (a hash collision only makes two prompts queue together). SQLite needs
    nothing: it has one writer at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:c, hashtext(:n))"),
            {"c": PROMPT_LOCK_CLASS, "n": name},
        )
