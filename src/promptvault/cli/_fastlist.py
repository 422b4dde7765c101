"""``promptvault list`` of a local SQLite registry without Typer, pydantic or SQLAlchemy.

The listing is read with the standard library's ``sqlite3``
(:func:`promptvault.storage.sqlite_reads.read_summaries`) and printed by the full command's
own printer; ``--json`` gives each prompt as pydantic would dump ``entities.PromptSummary``.
Anything not covered (see :mod:`promptvault.cli._fastpath`), a filter the registry would
refuse, or odd stored data returns None, and the full command runs instead
(``tests/cli/test_cli_fast_list.py`` compares the two).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from promptvault.cli._fastpath import FullPath, database_path, options, stored_time

__all__ = ["list_fast"]

_FILTERS = {"--tag": "tag", "-t": "tag", "--search": "search", "-s": "search", "--folder": "folder"}
# RegistryReads.list_prompts checks each filter as text of at most this many characters.
_FILTER_MAX = 1000


def _json_time(value: datetime) -> str:
    # pydantic writes UTC as "Z" where isoformat writes "+00:00".
    return value.isoformat().removesuffix("+00:00") + "Z"


def _summary(stored: Any) -> dict[str, Any]:
    """The fields of entities.PromptSummary, in its order, with aware times."""
    return {
        "name": stored.name,
        "description": stored.description,
        "type": stored.type,
        "tags": stored.tags,
        "latest_version": stored.latest_version,
        "latest_hash": stored.latest_hash,
        "labels": stored.labels,
        "archived": stored.archived,
        "created_at": stored_time(stored.created_at),
        "updated_at": stored_time(stored.updated_at),
        "updated_by": stored.updated_by,
    }


def list_fast(args: list[str]) -> int | None:
    """Run ``promptvault list ARGS`` here: its exit status, or None for the full command."""
    try:
        positional, flags, filters = options(args, flags=["--archived", "--json"], valued=_FILTERS)
        if positional:
            raise FullPath
        from promptvault._values import check_text

        for name, value in filters.items():
            check_text(value, name, limit=_FILTER_MAX)  # else the full path words the error
        from promptvault.storage.sqlite_reads import read_summaries

        found = read_summaries(
            database_path(),
            tag=filters.get("tag"),
            search=filters.get("search"),
            folder=filters.get("folder"),
            include_archived="--archived" in flags,
        )
        if found is None:
            raise FullPath
        prompts = [_summary(stored) for stored in found]
    except Exception:  # anything uncovered or failing: the full path answers
        return None
    from promptvault.cli import _output

    if "--json" in flags:
        _output.print_json(
            [
                {
                    **p,
                    "created_at": _json_time(p["created_at"]),
                    "updated_at": _json_time(p["updated_at"]),
                }
                for p in prompts
            ]
        )
        return 0
    from types import SimpleNamespace

    from promptvault.cli._show import print_listing

    print_listing([SimpleNamespace(**p) for p in prompts])
    return 0
