"""The migrations' revision ids, read from the files' ``revision``/``down_revision`` lines.

Standard library only: the CLI's read path (:mod:`promptvault.storage.sqlite_reads`) checks
that a database is current without importing SQLAlchemy or Alembic.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

__all__ = ["MIGRATIONS_DIR", "cached_head", "head_revision", "known_revisions", "revisions"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

_ASSIGN = re.compile(
    r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(None|\"[^\"\n]*\"|'[^'\n]*')\s*$",
    re.MULTILINE,
)


def revisions() -> dict[str, str | None]:
    """``{revision: down_revision}`` of every migration file, read without importing it."""
    out: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        values: dict[str, str | None] = {}
        for key, raw in _ASSIGN.findall(path.read_text(encoding="utf-8")):
            values.setdefault(key, None if raw == "None" else raw[1:-1])
        revision = values.get("revision")
        if revision:
            out[revision] = values.get("down_revision")
    return out


def head_revision() -> str:
    """The newest migration shipped with this version of promptvault."""
    found = revisions()
    parents = {down for down in found.values() if down}
    heads = sorted(set(found) - parents)
    if len(heads) != 1:
        raise RuntimeError(f"the packaged migrations must have exactly one head, found {heads}")
    return heads[0]


@functools.cache
def cached_head() -> str:
    """:func:`head_revision`, read once per process (the files do not change under it)."""
    return head_revision()


def known_revisions() -> frozenset[str]:
    """Every revision shipped with this version of promptvault."""
    return frozenset(revisions())
