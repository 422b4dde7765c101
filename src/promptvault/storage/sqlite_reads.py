"""One version read straight from a SQLite file with the standard library.

The CLI's read path: ``promptvault render`` or ``show`` on a local SQLite home reads one
prompt, and the full path (SQLAlchemy, pydantic, Alembic's revision check) costs several
hundred milliseconds of imports for it. This module answers only the common case, a current
schema and a reference that resolves; anything else returns None and the caller takes the
full path, which also words every error. The queries mirror ``repositories.resolve_state``
and ``repositories.version_row``; ``tests/cli/test_cli_fast_read.py`` compares the answers.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from promptvault.storage.revisions import cached_head

__all__ = ["StoredVersion", "read_version"]

# entities.JSON_MAX_DEPTH: deeper stored JSON is cut off by entities.clamp_json on the full
# path, so a value that might be that deep is left to it.
_JSON_MAX_DEPTH = 64
_LATEST = "latest"
_DEFAULT_LABEL = "production"


@dataclass(frozen=True)
class StoredVersion:
    """What rendering needs of one version, as stored."""

    name: str
    version: int
    type: str
    syntax: str
    template: Any
    config: dict[str, Any]
    variables_schema: dict[str, Any] | None
    labels: tuple[str, ...] = ()  # every label pointing at it, sorted
    message: str = ""
    author: str = ""
    created_at: str = ""  # as stored: naive UTC, "YYYY-MM-DD HH:MM:SS[.ffffff]"
    hash: str = ""


def read_version(
    path: str, name: str, label: str | None, version: int | None
) -> StoredVersion | None:
    """The version ``name@label`` or ``name@version`` points at, or None for "ask the full
    path" (no such file, schema not current, no such prompt, label or version, odd data)."""
    try:
        # The caller passes no "?", "%" or "#": the path needs no URI quoting.
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        conn.execute("BEGIN")  # one snapshot for every query below
        return _read(conn, name, label, version)
    except (sqlite3.Error, ValueError, RecursionError):
        return None
    finally:
        conn.close()


def _read(
    conn: sqlite3.Connection, name: str, label: str | None, version: int | None
) -> StoredVersion | None:
    if conn.execute("SELECT version_num FROM alembic_version").fetchall() != [(cached_head(),)]:
        return None  # not migrated yet, or by another promptvault: the full path decides
    prompt = conn.execute("SELECT id, latest_version FROM prompts WHERE name = ?", (name,))
    found = prompt.fetchone()
    if found is None:
        return None
    prompt_id, latest = found
    if version is not None:
        number = version if 1 <= version <= latest else None
    else:
        wanted = label or _DEFAULT_LABEL
        if wanted == _LATEST:
            number = latest
        else:
            row = conn.execute(
                "SELECT v.version FROM labels l JOIN prompt_versions v ON v.id = l.version_id"
                " WHERE l.prompt_id = ? AND l.label = ?",
                (prompt_id, wanted),
            ).fetchone()
            number = row[0] if row is not None else None
    if not number:
        return None
    row = conn.execute(
        "SELECT type, syntax, template, config, variables_schema, message, author,"
        " created_at, hash FROM prompt_versions WHERE prompt_id = ? AND version = ?",
        (prompt_id, number),
    ).fetchone()
    if row is None:
        return None
    kind, syntax, template, config, schema, message, author, created_at, digest = row
    if syntax not in ("mustache", "jinja"):
        return None  # other engines (langfuse) render through the full path
    texts = [t for t in (template, config, schema) if t is not None]
    if not all(isinstance(t, str) for t in texts) or any(
        t.count("[") + t.count("{") > _JSON_MAX_DEPTH for t in texts
    ):
        return None
    if not all(isinstance(v, str) for v in (message, author, created_at, digest)):
        return None
    labels = conn.execute(
        "SELECT l.label FROM labels l JOIN prompt_versions v ON v.id = l.version_id"
        " WHERE l.prompt_id = ? AND v.version = ? ORDER BY l.label",
        (prompt_id, number),
    ).fetchall()
    loaded_config = json.loads(config) if config is not None else None
    loaded_schema = json.loads(schema) if schema is not None else None
    if not isinstance(loaded_config, dict | None) or not isinstance(loaded_schema, dict | None):
        return None
    return StoredVersion(
        name=name,
        version=number,
        type="chat" if kind == "chat" else "text",
        syntax=syntax,
        template=json.loads(template) if template is not None else None,
        config=loaded_config or {},
        variables_schema=loaded_schema,
        labels=tuple(sorted(label for (label,) in labels)),
        message=message,
        author=author,
        created_at=created_at,
        hash=digest,
    )
