"""Output for people (Rich tables, colour on a terminal) and for scripts (plain JSON).

Colour only when the stream is a terminal and ``NO_COLOR`` is unset; tables have no box so
that they read like ``git`` or ``docker`` output and stay easy to grep. Rich is imported only
when something is printed for people.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

__all__ = [
    "colour_enabled",
    "console",
    "err",
    "format_time",
    "jsonable",
    "out",
    "print_json",
    "table",
    "warn",
]


def colour_enabled(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (any value)."""
    if "NO_COLOR" in os.environ:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def console(*, stderr: bool = False) -> Console:
    """A Rich console on the current stdout/stderr (looked up now, for test runners)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    colour = colour_enabled(stream)
    return Console(
        file=stream,
        no_color=not colour,
        color_system="auto" if colour else None,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=not colour,
        width=None if colour else int(os.environ.get("COLUMNS", "0") or 0) or 100,
    )


def out(text: str | Text = "", *, style: str | None = None) -> None:
    """Print a line (or Rich Text) to stdout; ``style`` applies only on a colour terminal."""
    if isinstance(text, str) and style is None:
        sys.stdout.write(text + "\n")
        return
    console().print(text, style=style)


def err(text: str) -> None:
    """Print a message to stderr (red ``error:`` prefix on a colour terminal)."""
    _stderr_line("error", text, "red")


def note(text: str) -> None:
    """Print an informational line to stderr, keeping stdout clean for data and JSON."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def warn(text: str) -> None:
    """Print a warning to stderr (never changes the exit status)."""
    _stderr_line("warning", text, "yellow")


def _stderr_line(prefix: str, text: str, colour: str) -> None:
    if colour_enabled(sys.stderr):
        sys.stderr.write(f"\x1b[1;{_ANSI[colour]}m{prefix}:\x1b[0m {text}\n")
    else:
        sys.stderr.write(f"{prefix}: {text}\n")
    sys.stderr.flush()


_ANSI = {"red": "31", "yellow": "33"}


def jsonable(value: Any) -> Any:
    """Pydantic values, dataclasses, tuples and datetimes turned into JSON-ready data."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v) for v in items]
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return jsonable(asdict(value))
    return value


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout (stable key order as given)."""
    sys.stdout.write(json.dumps(jsonable(value), indent=2, ensure_ascii=False) + "\n")


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    empty: str | None = None,
) -> None:
    """Print a borderless table with an upper-case header row; ``empty`` when no rows."""
    data = [["" if cell is None else str(cell) for cell in row] for row in rows]
    if not data:
        if empty:
            out(empty)
        return
    if not colour_enabled(sys.stdout):
        # Plain output: aligned columns two spaces apart, no wrapping, trailing spaces
        # trimmed; stable for scripts and tests whatever the width, and fast for long lists.
        header = [c.upper() for c in columns]
        widths = [max(len(header[i]), *(len(row[i]) for row in data)) for i in range(len(columns))]
        lines = []
        for row in [header, *data]:
            lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        sys.stdout.write("\n".join(lines) + "\n")
        return
    from rich import box
    from rich.table import Table

    grid = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        header_style="bold",
        padding=(0, 2, 0, 0),
    )
    for name in columns:
        grid.add_column(name.upper(), overflow="fold")
    for row in data:
        grid.add_row(*row)
    console().print(grid)


def format_time(value: datetime | None) -> str:
    """A short, sortable local-independent time: ``2024-05-01 12:30`` (UTC as stored)."""
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M")
