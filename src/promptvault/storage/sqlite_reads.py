"""Versions and prompt listings read straight from a SQLite file with the standard library.

The CLI's quick paths: ``promptvault render``, ``show``, ``get``, ``list`` and ``push`` of
unchanged files on a local SQLite home read a few rows, and the full path (SQLAlchemy,
pydantic, Alembic's revision check) costs several hundred milliseconds of imports for them.
This module answers only the common case, a current schema and a reference that resolves;
anything else returns None and the caller takes the full path, which also words every error.
The queries mirror ``repositories.resolve_state``, ``repositories.version_row`` and
``repositories.list_prompt_rows``/``summaries``; ``tests/cli/test_cli_fast_*.py`` compare the
answers.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from promptvault._values import JSON_MAX_DEPTH
from promptvault.storage.revisions import cached_head

__all__ = ["QuickSummary", "QuickVersion", "read_summaries", "read_version"]

_LATEST = "latest"
_DEFAULT_LABEL = "production"
# How SQLAlchemy stores a DateTime on SQLite; anything else is left to its own parser.
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?")
_T = TypeVar("_T")


@dataclass(frozen=True)
class QuickVersion:
    """One version as the quick paths read it (what ``render``, ``show`` and ``get`` need),
    as stored."""

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


@dataclass(frozen=True)
class QuickSummary:
    """A prompt as ``list`` and ``push`` read it (the fields of ``entities.PromptSummary``),
    as stored."""

    name: str
    description: str
    type: str
    tags: tuple[str, ...]
    latest_version: int | None
    latest_hash: str | None
    labels: dict[str, int]
    archived: bool
    created_at: str  # as stored: naive UTC, "YYYY-MM-DD HH:MM:SS[.ffffff]"
    updated_at: str
    updated_by: str


def _reading(path: str, read: Callable[[sqlite3.Connection], _T | None]) -> _T | None:
    """``read(conn)`` in one read-only snapshot of a current database, or None."""
    try:
        # The caller passes no "?", "%" or "#": the path needs no URI quoting.
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        conn.execute("BEGIN")  # one snapshot for every query
        head = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        if head != [(cached_head(),)]:
            return None  # not migrated yet, or by another promptvault: the full path decides
        return read(conn)
    except (sqlite3.Error, ValueError, RecursionError):
        return None
    finally:
        conn.close()


def read_version(
    path: str, name: str, label: str | None, version: int | None
) -> QuickVersion | None:
    """The version ``name@label`` or ``name@version`` points at, or None for "ask the full
    path" (no such file, schema not current, no such prompt, label or version, an archived
    prompt, odd data)."""
    return _reading(path, lambda conn: _read(conn, name, label, version))


def _read(
    conn: sqlite3.Connection, name: str, label: str | None, version: int | None
) -> QuickVersion | None:
    prompt = conn.execute(
        "SELECT id, latest_version, archived FROM prompts WHERE name = ?", (name,)
    )
    found = prompt.fetchone()
    if found is None or found[2]:
        return None  # an archived prompt does not resolve: the full path says so
    prompt_id, latest, _archived = found
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
    # Deeper stored JSON is cut off by _values.clamp_json on the full path: a value that
    # might be that deep (a bracket count over-counts) is left to it.
    texts = [t for t in (template, config, schema) if t is not None]
    if not all(isinstance(t, str) for t in texts) or any(
        t.count("[") + t.count("{") > JSON_MAX_DEPTH for t in texts
    ):
        return None
    if not all(isinstance(v, str) for v in (message, author, created_at, digest)):
        return None
    if not _TIMESTAMP.fullmatch(created_at):
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
    return QuickVersion(
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


def read_summaries(
    path: str,
    *,
    tag: str | None = None,
    search: str | None = None,
    folder: str | None = None,
    include_archived: bool = False,
) -> list[QuickSummary] | None:
    """Every prompt the listing's filters keep, sorted by name, or None for "ask the full
    path". The filters are those of ``repositories.list_prompt_rows``, already checked."""
    pattern = f"%{_escape_like(search.lower())}%" if search else None
    prefix = _escape_like(folder.rstrip("/") + "/") + "%" if folder else None
    params = (include_archived, tag or None, tag, pattern, pattern, pattern, prefix, prefix)
    return _reading(path, lambda conn: _summaries(conn, params))


# Each filter is off when its parameter is NULL (false for the archived one).
_LISTING = (
    "SELECT id, name, description, type, latest_version, archived, created_at, updated_at,"
    " updated_by FROM prompts"
    " WHERE (? OR archived IS 0)"
    " AND (? IS NULL OR id IN (SELECT prompt_id FROM tags WHERE tag = ?))"
    " AND (? IS NULL OR lower(name) LIKE ? ESCAPE '\\' OR lower(description) LIKE ? ESCAPE '\\')"
    " AND (? IS NULL OR name LIKE ? ESCAPE '\\')"
    " ORDER BY name"
)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _summaries(conn: sqlite3.Connection, params: tuple[Any, ...]) -> list[QuickSummary] | None:
    rows = conn.execute(_LISTING, params).fetchall()
    tags: dict[int, list[str]] = {row[0]: [] for row in rows}
    for prompt_id, tag in conn.execute("SELECT prompt_id, tag FROM tags ORDER BY tag"):
        if prompt_id in tags:
            tags[prompt_id].append(tag)
    labels: dict[int, dict[str, int]] = {row[0]: {} for row in rows}
    for prompt_id, label, number in conn.execute(
        "SELECT l.prompt_id, l.label, v.version FROM labels l"
        " JOIN prompt_versions v ON v.id = l.version_id ORDER BY l.label"
    ):
        if prompt_id in labels:
            labels[prompt_id][label] = number
    hashes = dict(
        conn.execute(
            "SELECT v.prompt_id, v.hash FROM prompt_versions v"
            " JOIN prompts p ON p.id = v.prompt_id AND p.latest_version = v.version"
        ).fetchall()
    )
    found: list[QuickSummary] = []
    for prompt_id, name, description, kind, latest, archived, created, updated, by in rows:
        texts = (name, description, created, updated, by)
        if not all(isinstance(t, str) for t in texts) or not isinstance(latest, int):
            return None
        if not (_TIMESTAMP.fullmatch(created) and _TIMESTAMP.fullmatch(updated)):
            return None
        found.append(
            QuickSummary(
                name=name,
                description=description,
                type="chat" if kind == "chat" else "text",
                tags=tuple(tags[prompt_id]),
                latest_version=latest or None,
                latest_hash=hashes.get(prompt_id),
                labels=labels[prompt_id],
                archived=bool(archived),
                created_at=created,
                updated_at=updated,
                updated_by=by,
            )
        )
    return found
