"""Audit commands: ``audit log`` and ``audit verify``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output
from promptvault.errors import InvalidInputError

__all__ = ["audit_app", "parse_since"]

audit_app = typer.Typer(help="Read and verify the hash-chained audit log.", no_args_is_help=True)

_RELATIVE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """``2024-05-01``, an ISO date-time, or a span back from now (``30m``, ``12h``, ``7d``)."""
    match = _RELATIVE.fullmatch(value.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInputError(
            f"--since {value!r}: use a date (2024-05-01), a date-time or a span (12h, 7d)",
            details={"field": "--since", "value": value},
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@audit_app.command("log")
def log(
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="WHEN", help="From a date, date-time or span (7d, 12h)."),
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", metavar="NAME", help="Only this actor.")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(
            "--action", metavar="ACTION", help="Only this action (prefix with a trailing .)."
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", metavar="N", min=1, help="At most N.")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Audit entries, oldest first.

    \b
    Examples:
      promptvault audit log --since 7d
      promptvault audit log --actor alice --json
    """
    entries = ctx.backend().audit.entries(
        since=parse_since(since) if since else None, actor=actor, action=action, limit=limit
    )
    if ctx.want_json(json_):
        output.print_json(entries)
        return
    output.table(
        ["seq", "time", "actor", "action", "target"],
        [(e.seq, output.format_time(e.at), e.actor, e.action, e.target) for e in entries],
        empty="no audit entries",
    )


@audit_app.command("verify")
def verify(json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Walk the hash chain; exit 1 and show the first broken entry if it was tampered with."""
    report = ctx.backend().audit.verify()
    if ctx.want_json(json_):
        output.print_json(report)
    elif report.ok:
        output.out(f"audit chain ok: {report.checked} entries verified")
    else:
        output.err(
            f"audit chain broken at entry {report.broken_seq}: {report.reason} "
            f"({report.checked} entries checked)"
        )
    if not report.ok:
        raise typer.Exit(1)
