"""Label commands: ``label set|list|history``, ``promote`` and ``rollback``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output

__all__ = ["label_app", "promote", "rollback"]

label_app = typer.Typer(
    help="Move, list and trace labels (production, staging, ...).", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
OverrideGate = Annotated[
    bool,
    typer.Option("--override-gate", help="Promote past a failing eval gate (audited)."),
]


def _set(name: str, label: str, version: int, override_gate: bool) -> Any:
    backend = ctx.backend()
    if override_gate:
        return backend.set_label(name, label, version, actor=ctx.actor(), override_gate=True)
    return backend.set_label(name, label, version, actor=ctx.actor())


def _moved(event: Any, json_: bool) -> None:
    if ctx.want_json(json_):
        output.print_json(event)
        return
    if not getattr(event, "changed", True):
        output.out(f"{event.name}: {event.label} already at v{event.to_version} (nothing to do)")
        return
    before = f"v{event.from_version}" if event.from_version is not None else "(unset)"
    output.out(f"{event.name}: {event.label} {before} -> v{event.to_version}")


@label_app.command("set")
def set_label(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    label: Annotated[str, typer.Argument(help="Label ([a-z][a-z0-9_-]*).")],
    version: Annotated[int, typer.Argument(help="Version number.", min=1)],
    override_gate: OverrideGate = False,
    json_: JsonFlag = False,
) -> None:
    """Point LABEL at VERSION.

    \b
    Example:
      promptvault label set customer_support staging 3
    """
    _moved(_set(name, label, version, override_gate), json_)


@label_app.command("list")
def list_labels(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    json_: JsonFlag = False,
) -> None:
    """Labels of a prompt and the version each points at."""
    labels = ctx.backend().labels(name)
    if ctx.want_json(json_):
        output.print_json(labels)
        return
    output.table(
        ["label", "version"],
        [(k, f"v{v}") for k, v in sorted(labels.items())],
        empty="no labels",
    )


@label_app.command("history")
def history(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    label: Annotated[str | None, typer.Argument(help="Label (default: all).")] = None,
    json_: JsonFlag = False,
) -> None:
    """Every move of a label, newest first.

    \b
    Example:
      promptvault label history customer_support production
    """
    events = ctx.backend().label_history(name, label)
    if ctx.want_json(json_):
        output.print_json(events)
        return
    output.table(
        ["label", "from", "to", "action", "actor", "date"],
        [
            (
                e.label,
                f"v{e.from_version}" if e.from_version is not None else "-",
                f"v{e.to_version}",
                e.action,
                e.actor,
                output.format_time(e.at),
            )
            for e in events
        ],
        empty="no label moves",
    )


def promote(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    version: Annotated[int, typer.Argument(help="Version to promote.", min=1)],
    to: Annotated[str, typer.Option("--to", metavar="LABEL", help="Label to move.")] = "production",
    override_gate: OverrideGate = False,
    json_: JsonFlag = False,
) -> None:
    """Move a label (production by default) to VERSION.

    A label with an eval gate moves only to a version with a passing run; the refusal says
    why. ``--override-gate`` promotes anyway (admin; recorded in the audit log).

    \b
    Example:
      promptvault promote customer_support 2
    """
    _moved(_set(name, to, version, override_gate), json_)


def rollback(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    label: Annotated[
        str, typer.Option("--label", "-l", metavar="LABEL", help="Label to move back.")
    ] = ("production"),
    json_: JsonFlag = False,
) -> None:
    """Move a label back to where it pointed before its last move.

    \b
    Example:
      promptvault rollback customer_support
    """
    _moved(ctx.backend().rollback(name, label=label, actor=ctx.actor()), json_)
