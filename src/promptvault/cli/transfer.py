"""Backup commands: ``export``, ``import`` and ``import-seed``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output

__all__ = ["export", "import_", "import_seed"]


def export(
    file: Annotated[Path, typer.Argument(help="JSON file to write.")],
) -> None:
    """Write a lossless JSON backup of every prompt, version, label and label move.

    \b
    Example:
      promptvault export backup.json
    """
    count = ctx.backend().export(file)
    output.out(f"exported {count} prompt{'s' if count != 1 else ''} to {file}")


def import_(
    file: Annotated[Path, typer.Argument(help="A backup written by export.", exists=True)],
) -> None:
    """Restore a backup written by export.

    \b
    Example:
      promptvault --db sqlite:///restored.db import backup.json
    """
    count = ctx.backend().import_(file, actor=ctx.actor())
    output.out(f"imported {count} prompt{'s' if count != 1 else ''} from {file}")


def import_seed(
    file: Annotated[Path, typer.Argument(help="A single-JSON-file registry.", exists=True)],
) -> None:
    """Import the single-JSON-file registry format (active_version becomes production).

    \b
    Example:
      promptvault import-seed prompts.json
    """
    count = ctx.backend().import_seed_registry(file, actor=ctx.actor())
    output.out(f"imported {count} prompt{'s' if count != 1 else ''} from {file}")
