"""``promptvault events tail``: the change events, from a database or a server."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output
from promptvault.entities import ChangeEvent

__all__ = ["events_app"]

events_app = typer.Typer(help="Read the change events (label moves, pushes, ...).")

_PAGE = 500


def _summary(event: ChangeEvent) -> str:
    p = event.payload
    if event.type == "label.moved":
        old = p.get("old_version")
        start = f"v{old} -> " if old is not None else ""
        return f"{p.get('label')}: {start}v{p.get('new_version')}"
    if event.type == "label.removed":
        return f"{p.get('label')} removed (was v{p.get('old_version')})"
    if event.type == "version.pushed":
        return f"v{p.get('version')}"
    if event.type.startswith("experiment."):
        return str(p.get("experiment"))
    if event.type == "collection.changed":
        return f"{p.get('collection')} ({p.get('action')})"
    return ""


def _print(events: list[ChangeEvent], as_json: bool) -> None:
    if as_json:
        # One object a line: a --follow stream can be piped into jq or another program.
        for event in events:
            sys.stdout.write(json.dumps(output.jsonable(event), ensure_ascii=False) + "\n")
    else:
        for e in events:
            parts = [f"{e.id:>6}", output.format_time(e.at), f"{e.type:<20}", e.prompt or "-"]
            parts += [_summary(e), f"by {e.actor}"]
            sys.stdout.write("  ".join(p for p in parts if p) + "\n")
    sys.stdout.flush()


@events_app.command("tail")
def tail(
    *,
    after: Annotated[
        int | None,
        typer.Option(
            "--after", metavar="ID", min=0, help="Events after this id (default: last N)."
        ),
    ] = None,
    last: Annotated[
        int, typer.Option("--last", "-n", metavar="N", min=0, help="Start with the N newest.")
    ] = 20,
    prefix: Annotated[
        str | None,
        typer.Option("--prefix", metavar="NAME", help="Only prompts whose name starts so."),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events until interrupted.")
    ] = False,
    interval: Annotated[
        float,
        typer.Option("--interval", metavar="SECONDS", min=0.05, help="Poll period with --follow."),
    ] = 1.0,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object a line.")] = False,
) -> None:
    """Change events, oldest first; ``--follow`` keeps waiting for more.

    \b
    Examples:
      promptvault events tail -n 50
      promptvault events tail --prefix team/ --follow --json
    """
    feed = ctx.backend().events
    cursor = after
    if cursor is None:
        # Ids only grow (with gaps where a write rolled back): "the N newest" by id.
        cursor = max(0, feed.page(after=0, limit=1).last_id - last)
    as_json = ctx.want_json(json_)
    try:
        while True:
            found = feed.page(after=cursor, limit=_PAGE, prefix=prefix)
            _print(found.items, as_json)
            cursor = found.cursor
            if found.cursor < found.last_id:
                continue  # more to read now
            if not follow:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return
