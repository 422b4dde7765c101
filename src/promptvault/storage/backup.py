"""Online, consistent backups of a whole database, and restores that check what they load.

A backup holds every table of the schema: prompts, versions, labels and their history,
tags, the audit log and its checkpoints, API keys (salted digests only: secrets are never
stored), experiments with their variants, units, raw events and statistics, collections
with their examples and embeddings.

* **SQLite** is copied with the sqlite3 backup API in one step, which reads one snapshot
  while writers carry on (WAL mode); the copy is a plain SQLite file (journal mode DELETE).
* **PostgreSQL** is exported row by row inside one ``REPEATABLE READ READ ONLY``
  transaction, so the file is one consistent state however long it takes: JSON lines (a
  header with the schema revision, one line per row, a trailer with the row counts; gzip
  when the file name ends in ``.gz``).

Either file restores into either database. :func:`restore` loads every row in one
transaction, refuses a database that holds anything unless ``force`` (which replaces it),
verifies the restored audit chain and its signed checkpoints before committing, and records
``backup.restore`` in the chain. Files are written through a temp file and a rename with
mode 0600 (they hold key digests and the audit log).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import (
    Column,
    LargeBinary,
    MetaData,
    Table,
    create_engine,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from promptvault.entities import AuditReport
from promptvault.errors import ConflictError, InvalidInputError
from promptvault.storage.audit import append, verify_chain
from promptvault.storage.checkpoints import resign_checkpoints
from promptvault.storage.database import Database
from promptvault.storage.migrate import current_revision, known_revisions
from promptvault.storage.tables import Base, UTCDateTime

__all__ = ["FORMAT", "BackupResult", "RestoreResult", "backup", "restore"]

FORMAT = "promptvault-backup"
FORMAT_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"
_GZIP_MAGIC = b"\x1f\x8b"
_BATCH = 1000


@dataclass(frozen=True)
class BackupResult:
    """What a backup wrote."""

    path: Path
    kind: str  # "sqlite" or "jsonl"
    revision: str
    rows: dict[str, int] = field(default_factory=dict)
    audit_entries: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class RestoreResult:
    """What a restore loaded, and the check of the restored audit log."""

    path: Path
    revision: str
    rows: dict[str, int]
    audit: AuditReport


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def _light(table: Table, names: set[str] | None = None) -> Table:
    """``table`` with only ``names`` and no defaults: rows go in exactly as they were."""
    columns = [
        Column(c.name, c.type, primary_key=c.primary_key, autoincrement=False)
        for c in table.columns
        if names is None or c.name in names
    ]
    return Table(table.name, MetaData(), *columns)


def _order(table: Table) -> list[Any]:
    keys = list(table.primary_key.columns) or list(table.columns)
    return [table.c[c.name] for c in keys]


# --- backup ---------------------------------------------------------------------------


def backup(db: Database, path: Path) -> BackupResult:
    """Write a consistent backup of ``db`` to ``path`` while other processes keep writing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if db.is_sqlite:
            result = _backup_sqlite(db, tmp)
        else:
            result = _backup_logical(db, tmp, compress=path.name.endswith(".gz"))
        os.chmod(tmp, stat.S_IRUSR | stat.S_IWUSR)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return BackupResult(
        path=path,
        kind=result.kind,
        revision=result.revision,
        rows=result.rows,
        audit_entries=result.audit_entries,
        bytes=path.stat().st_size,
    )


def _backup_sqlite(db: Database, tmp: Path) -> BackupResult:
    raw = db.engine.raw_connection()
    try:
        source = raw.driver_connection
        target = sqlite3.connect(tmp)
        try:
            # pages=-1: the whole database in one step, read from one snapshot.
            source.backup(target, pages=-1)  # type: ignore[union-attr]
            target.execute("PRAGMA journal_mode=DELETE")
            revision = target.execute("SELECT version_num FROM alembic_version").fetchone()
            present = {r[0] for r in target.execute("SELECT name FROM sqlite_master")}
            rows = {
                t.name: int(target.execute(f'SELECT COUNT(*) FROM "{t.name}"').fetchone()[0])  # noqa: S608 - names from the ORM metadata
                for t in _tables()
                if t.name in present
            }
            target.commit()
        finally:
            target.close()
    finally:
        raw.close()
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    return BackupResult(
        path=tmp,
        kind="sqlite",
        revision=str(revision[0]) if revision else "",
        rows=rows,
        audit_entries=rows.get("audit_log", 0),
    )


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _backup_logical(db: Database, tmp: Path, *, compress: bool) -> BackupResult:
    rows: dict[str, int] = {}
    opener: Any = gzip.open if compress else open
    with db.snapshot() as s, opener(tmp, "wt", encoding="utf-8") as out:
        revision = s.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        present = set(inspect(s.connection()).get_table_names())
        tables = [t for t in _tables() if t.name in present]
        header = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "revision": revision,
            "created_at": datetime.now(UTC).isoformat(),
            "source": db.dialect,
            "tables": [t.name for t in tables],
        }
        out.write(json.dumps(header) + "\n")
        for table in tables:
            count = 0
            query = select(table).order_by(*_order(table)).execution_options(yield_per=_BATCH)
            for row in s.execute(query).mappings():
                record = {k: _encode(v) for k, v in row.items()}
                out.write(json.dumps({"t": table.name, "r": record}, ensure_ascii=False) + "\n")
                count += 1
            rows[table.name] = count
        out.write(json.dumps({"end": True, "rows": rows}) + "\n")
        out.flush()
        if not compress:
            os.fsync(out.fileno())
    return BackupResult(
        path=tmp,
        kind="jsonl",
        revision=str(revision),
        rows=rows,
        audit_entries=rows.get("audit_log", 0),
    )


# --- reading a backup -----------------------------------------------------------------


class _Source:
    """The tables of a backup file, read row by row."""

    revision: str
    tables: list[str]

    def batches(self, tables: dict[str, Table]) -> Iterator[tuple[Table, list[dict[str, Any]]]]:
        """Batches of rows, table by table in dependency order, as Python values."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""


class _SqliteSource(_Source):
    def __init__(self, path: Path) -> None:
        uri = f"file:{path}?mode=ro"
        self.engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))
        with self.engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            if "alembic_version" not in names:
                raise InvalidInputError(
                    f"{path} is a SQLite file but not a promptvault database",
                    details={"field": "file", "path": str(path)},
                )
            self.revision = str(
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            )
            self.columns = {n: {c["name"] for c in inspect(conn).get_columns(n)} for n in names}
        self.tables = [t.name for t in _tables() if t.name in names]

    def batches(self, tables: dict[str, Table]) -> Iterator[tuple[Table, list[dict[str, Any]]]]:
        with self.engine.connect() as conn:
            for name in self.tables:
                table = tables[name]
                light = _light(table, self.columns[name])
                result = conn.execute(select(light).order_by(*_order(light)))
                while batch := result.mappings().fetchmany(_BATCH):
                    yield table, [dict(row) for row in batch]

    def close(self) -> None:
        self.engine.dispose()


class _JsonlSource(_Source):
    def __init__(self, path: Path, *, compressed: bool) -> None:
        self.path = path
        self.compressed = compressed
        with self._open() as fh:
            header = self._line(fh.readline(), 1)
            if header.get("format") != FORMAT:
                raise InvalidInputError(
                    f"{path} is not a promptvault backup (format {header.get('format')!r})",
                    details={"field": "file", "path": str(path)},
                )
            self.revision = str(header.get("revision"))
            self.tables = [str(t) for t in header.get("tables") or []]
            self.counts = self._trailer(fh)

    def _open(self) -> IO[str]:
        if self.compressed:
            return gzip.open(self.path, "rt", encoding="utf-8")
        return open(self.path, encoding="utf-8")

    def _line(self, raw: str, number: int) -> dict[str, Any]:
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise InvalidInputError(
                f"{self.path} line {number}: not JSON ({exc})",
                details={"field": "file", "line": number},
            ) from exc
        if not isinstance(value, dict):
            raise InvalidInputError(
                f"{self.path} line {number}: expected an object",
                details={"field": "file", "line": number},
            )
        return value

    def _trailer(self, fh: IO[str]) -> dict[str, int]:
        last = ""
        number = 1
        for number, raw in enumerate(fh, start=2):  # noqa: B007 - the last line is the trailer
            last = raw
        end = self._line(last, number) if last.strip() else {}
        if not end.get("end"):
            raise InvalidInputError(
                f"{self.path} is incomplete: it has no end line (the backup was cut short)",
                details={"field": "file", "line": number},
            )
        return {str(k): int(v) for k, v in (end.get("rows") or {}).items()}

    def batches(self, tables: dict[str, Table]) -> Iterator[tuple[Table, list[dict[str, Any]]]]:
        # One pass over the file: the rows of each table follow each other.
        decoders = {
            name: {c.name: _decoder(c) for c in table.columns} for name, table in tables.items()
        }
        table: Table | None = None
        batch: list[dict[str, Any]] = []
        with self._open() as fh:
            for number, raw in enumerate(fh, start=1):
                if number == 1:
                    continue
                item = self._line(raw, number)
                if item.get("end"):
                    break
                name = item.get("t")
                if not isinstance(name, str) or name not in tables:
                    continue  # a table this promptvault does not have
                if table is not None and (name != table.name or len(batch) >= _BATCH):
                    yield table, batch
                    batch = []
                table = tables[name]
                columns = decoders[name]
                record = item.get("r")
                if not isinstance(record, dict):
                    raise InvalidInputError(
                        f"{self.path} line {number}: a row must be an object",
                        details={"field": "file", "line": number},
                    )
                try:
                    batch.append({k: columns[k](v) for k, v in record.items() if k in columns})
                except (TypeError, ValueError) as exc:
                    raise InvalidInputError(
                        f"{self.path} line {number}: bad value in table {name}: {exc}",
                        details={"field": "file", "line": number, "table": name},
                    ) from exc
        if table is not None and batch:
            yield table, batch


def _decoder(column: Column[Any]) -> Any:
    if isinstance(column.type, UTCDateTime):
        return lambda v: None if v is None else datetime.fromisoformat(v)
    if isinstance(column.type, LargeBinary):
        return lambda v: None if v is None else base64.b64decode(v)
    return lambda v: v


def _open_source(path: Path) -> _Source:
    try:
        with open(path, "rb") as fh:
            magic = fh.read(16)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read {path}: {exc.strerror or exc}",
            details={"field": "file", "path": str(path)},
        ) from exc
    if magic.startswith(_SQLITE_MAGIC):
        return _SqliteSource(path)
    return _JsonlSource(path, compressed=magic.startswith(_GZIP_MAGIC))


# --- restore --------------------------------------------------------------------------


def _is_empty(session: Session) -> tuple[bool, dict[str, int]]:
    held = {}
    for table in _tables():
        count = int(session.execute(select(func.count()).select_from(table)).scalar_one())
        if count:
            held[table.name] = count
    return not held, held


def _reset_sequences(session: Session) -> None:
    # Rows came in with their ids: move each serial sequence past the highest one.
    for table in _tables():
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and pk[0].name == "id" and pk[0].autoincrement is not False:
            top = func.max(table.c.id)
            sequence = func.pg_get_serial_sequence(table.name, "id")
            session.execute(select(func.setval(sequence, func.coalesce(top, 1), top.is_not(None))))


def restore(
    db: Database,
    path: Path,
    *,
    force: bool = False,
    actor: str = "",
    resign: bool = False,
) -> RestoreResult:
    """Load a backup into ``db`` (already at this promptvault's schema) in one transaction.

    Refuses a database that holds anything unless ``force`` (whose rows are then replaced),
    and a backup whose audit chain or checkpoints do not verify; records ``backup.restore``.
    ``resign`` accepts checkpoints signed with another audit key (the key of the backed-up
    database is lost): they are signed again with this database's key, and the chain must
    still agree with them; the restore entry names the old key.
    """
    path = Path(path)
    source = _open_source(path)
    try:
        if source.revision not in known_revisions():
            raise InvalidInputError(
                f"{path} was made by a newer promptvault (schema {source.revision}); "
                f"upgrade promptvault to restore it",
                details={"field": "file", "revision": source.revision},
            )
        target_revision = current_revision(db.engine) or ""
        with db.transaction() as s:
            empty, held = _is_empty(s)
            if not empty and not force:
                summary = ", ".join(f"{n} {t}" for t, n in sorted(held.items()))
                raise ConflictError(
                    f"the database is not empty ({summary}); restore replaces everything "
                    "in it only with --force",
                    details={"field": "force", "tables": held},
                )
            for table in reversed(_tables()):
                if not empty:
                    s.execute(delete(table))
            loaded = _load(s, source)
            if db.is_postgres:
                _reset_sequences(s)
            anchored = "audit_checkpoints" in source.tables
            report = verify_chain(s, anchor=db.audit_anchor if anchored else None)
            resigned: list[str] = []
            if resign and report.problem == "checkpoint_foreign_key":
                resigned = resign_checkpoints(s, db.audit_anchor)
                report = verify_chain(s, anchor=db.audit_anchor)
            if not report.ok:
                hint = ""
                if report.problem == "checkpoint_foreign_key":
                    hint = " (if that key is lost, restore with --resign-audit / resign=True)"
                raise InvalidInputError(
                    f"the backup's audit log does not verify, nothing was restored: "
                    f"{report.reason}{hint}",
                    details={"field": "file", "problem": report.problem, "seq": report.broken_seq},
                )
            append(
                s,
                actor=actor,
                action="backup.restore",
                target="database",
                details={
                    "file": path.name,
                    "revision": source.revision,
                    "audit_entries": report.checked,
                    "rows": loaded,
                    "replaced": held,
                    **({"resigned_from_keys": resigned} if resigned else {}),
                },
            )
    finally:
        source.close()
    return RestoreResult(
        path=path, revision=target_revision or source.revision, rows=loaded, audit=report
    )


def _load(session: Session, source: _Source) -> dict[str, int]:
    by_name = {t.name: t for t in _tables() if t.name in source.tables}
    loaded = dict.fromkeys(by_name, 0)
    for table, batch in source.batches(by_name):
        names = set().union(*(row.keys() for row in batch))
        try:
            session.execute(insert(_light(table, names)), batch)
        except IntegrityError as exc:
            raise InvalidInputError(
                f"table {table.name}: {exc.orig}: the backup is damaged or inconsistent; "
                "nothing was restored",
                details={"field": "file", "table": table.name},
            ) from exc
        loaded[table.name] += len(batch)
    expected = getattr(source, "counts", None)
    if expected is not None:
        for name, count in expected.items():
            if name in by_name and loaded.get(name, 0) != count:
                raise InvalidInputError(
                    f"table {name}: the backup says {count} rows, {loaded.get(name, 0)} "
                    "were read (the file is damaged)",
                    details={"field": "file", "table": name},
                )
    return loaded
