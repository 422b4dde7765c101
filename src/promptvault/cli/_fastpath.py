"""What the CLI's quick paths share: where the local database is, and their arguments.

A few commands (``render``, ``show``, ``get``, ``list``, ``check``, and ``push`` of unchanged
files) answer their common case without Typer, pydantic or SQLAlchemy, whose imports cost
far more than the work. Each quick path either prints exactly what the full command prints
and returns its exit status, or returns None before printing anything (its steps raise
:class:`FullPath` for a case they do not cover, and any error counts the same), and the
full command runs instead (and words every error). ``tests/cli/test_cli_fast_*.py`` compare
the two paths' output.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["FullPath", "database_path", "options", "settings_fields", "stored_time"]


class FullPath(Exception):
    """The case is not covered by the quick path: run the full command."""


# A field of config.Settings: ``name: annotation`` at the class body's indentation.
_FIELD = re.compile(r"^    ([a-z_][a-z0-9_]*): ([^=\n]+?)(?: = .*)?$", re.MULTILINE)
# Annotations whose every value validates.
_TEXT = frozenset({"str", "str | None", "Path", "Path | None"})
# Text settings that change an answer: a server instead of the database, the zone of
# the built-in now/today.
_ANSWER_CHANGING = frozenset({"url", "timezone"})
_PREFIX = "PROMPTVAULT_"


@functools.cache
def settings_fields() -> dict[str, bool]:
    """``{field: whether any value validates}`` of config.Settings, read from its source
    (importing it loads pydantic). An environment variable for a field is read and checked
    by the full path, so a quick path answers only when that cannot fail and cannot change
    its answer. ``tests/cli/test_cli_fast_read.py`` compares this with the class."""
    source = (Path(__file__).parent.parent / "config.py").read_text(encoding="utf-8")
    body = source[source.index("\nclass Settings(") :]
    return {name: kind.strip() in _TEXT for name, kind in _FIELD.findall(body)}


def _environment() -> dict[str, str]:
    """The PROMPTVAULT_ settings in the environment, or FullPath when one is not covered."""
    found: dict[str, str] = {}
    for key, value in os.environ.items():
        if not key.upper().startswith(_PREFIX):
            continue
        field = key[len(_PREFIX) :].lower()
        fields = settings_fields()
        if field not in fields:
            continue  # not a setting: pydantic-settings ignores it too
        # pydantic-settings matches names case-insensitively; only the plain spelling here.
        if key != key.upper() or not value:
            raise FullPath
        if not fields[field] or field in _ANSWER_CHANGING:
            raise FullPath
        found[field] = value
    return found


def database_path() -> str:
    """The local SQLite file the settings name, as ``cli._context.settings`` would find it;
    FullPath for remote mode, another database or settings the quick paths do not cover."""
    env = _environment()
    from promptvault.cli._context import find_project

    found = find_project()
    if found is not None and found.url:
        raise FullPath  # remote mode
    url = env.get("database_url")
    if url is None and found is not None and found.database_url:
        url = found.database_url
    if url is None:
        from promptvault._home import default_home

        home = Path(env["home"]) if "home" in env else default_home()
        url = f"sqlite:///{home / 'promptvault.db'}"
    prefix = "sqlite:///"
    path = url[len(prefix) :] if url.startswith(prefix) else ""
    if not path or path.startswith(":memory:") or any(c in path for c in "?%#"):
        raise FullPath
    return path


def options(
    args: Iterable[str],
    *,
    flags: Iterable[str] = (),
    valued: Mapping[str, str] | None = None,
) -> tuple[list[str], set[str], dict[str, str]]:
    """(positional arguments, flags given, ``{name: value}``) of ``args``, read as click
    reads them, or FullPath for anything less plain: an unknown option, ``--``, an option
    given twice, a value or argument that is empty or starts with ``-``.

    ``valued`` maps each spelling (``--tag``, ``-t``) to the option's name; a long one also
    takes ``--tag=VALUE``.
    """
    known_flags = set(flags)
    spellings = dict(valued or {})
    positional: list[str] = []
    given: set[str] = set()
    values: dict[str, str] = {}
    rest = iter(args)
    for arg in rest:
        if arg in known_flags:
            given.add(arg)
            continue
        spelling, eq, attached = arg.partition("=")
        if arg.startswith("--") and eq and spelling in spellings:
            name, value = spellings[spelling], attached
        elif arg in spellings:
            name, value = spellings[arg], next(rest, "")
        elif arg.startswith("-") or not arg:
            raise FullPath
        else:
            positional.append(arg)
            continue
        if name in values or not value or value.startswith("-"):
            raise FullPath
        values[name] = value
    return positional, given, values


def stored_time(text: str) -> datetime:
    """A time as ``storage/sqlite_reads.py`` reads it (naive UTC text), aware as the full
    path's column type returns it."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
