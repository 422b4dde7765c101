"""What the tests of the CLI's quick paths and of its startup share: a command run through
``main`` (quick path first) or through the full Typer command, the two compared, and which
modules a run loads in a fresh interpreter."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from promptvault.cli import main
from promptvault.cli._app import build_app

# What a quick path exists to avoid importing.
HEAVY = ("sqlalchemy", "alembic", "typer", "click", "pydantic", "jsonschema")

# A stored time not as SQLAlchemy writes it: its parser applies the offset (10:30 UTC), the
# quick paths' reading would not, so they leave it to the full command.
OFFSET_TIME = "2024-05-01 12:30:00+02:00"

_PROBE = """
import json, sys
from promptvault.cli import main
try:
    main({args!r})
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
sys.stderr.write(json.dumps({{"code": code, "modules": sorted(sys.modules)}}))
"""


def edit_database(home: Path, statement: str) -> None:
    """Run one SQL statement on the home's SQLite file, as a change made outside would."""
    with sqlite3.connect(home / "promptvault.db") as conn:
        conn.execute(statement)


def run(args: list[str], capsys: pytest.CaptureFixture[str], *, fast: bool) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``promptvault ARGS`` (``fast``: through ``main``)."""
    code: object = 0
    try:
        if fast:
            main(args)
        else:
            build_app()(args=args, prog_name="promptvault")
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return int(code or 0), out.out, out.err


def same_as_full(
    quick: Callable[[list[str]], int | None],
    args: list[str],
    capsys: pytest.CaptureFixture[str],
    *,
    status: int = 0,
) -> tuple[int, str, str]:
    """Assert that ``quick`` answers ``promptvault ARGS`` itself (with ``status``) and that
    ``main`` prints what the full command prints; returns (status, stdout, stderr)."""
    assert quick(args[1:]) == status
    capsys.readouterr()
    fast = run(args, capsys, fast=True)
    assert fast == run(args, capsys, fast=False)
    return fast


def probe(args: list[str]) -> tuple[int, str, list[str]]:
    """``promptvault ARGS`` in a fresh interpreter: its exit status, its stdout, and every
    module it loaded."""
    command = [sys.executable, "-c", _PROBE.format(args=args)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return int(report["code"] or 0), done.stdout, list(report["modules"])


def among(modules: Iterable[str], packages: Iterable[str]) -> list[str]:
    """The ``modules`` that are ``packages`` or inside them (``promptvault.storage``
    names a subpackage)."""
    names = tuple(packages)
    return [m for m in modules if any(m == p or m.startswith(f"{p}.") for p in names)]
