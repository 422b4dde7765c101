"""Startup stays light: --version and --help load no database, server or template code.

(Typer itself loads pydantic to build any command's parameters; only ``--version`` alone
answers before Typer is imported.)
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "sqlalchemy",
    "alembic",
    "fastapi",
    "uvicorn",
    "httpx",
    "jinja2",
    "promptvault.vault",
    "promptvault.storage",
    "promptvault.server",
    "promptvault.client",
    "promptvault.registry",
    "promptvault.templating",
)

PROBE = """
import json, sys
from promptvault.cli import main
try:
    main({args!r})
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
sys.stderr.write(json.dumps({{"code": code, "modules": sorted(sys.modules)}}))
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--help"],
        ["push", "--help"],
        ["label", "--help"],
        ["-V"],
        ["--db", "x", "-V"],
    ],
)
def test_no_heavy_imports(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, check=False
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None)
    loaded = [m for m in report["modules"] if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    assert loaded == []
    if args in (["--version"], ["-V"]):
        assert not [m for m in report["modules"] if m.startswith(("typer", "pydantic"))]
    if args[-1] in ("--version", "-V"):
        assert done.stdout == "promptvault 0.1.0\n"
    else:
        assert done.stdout.startswith("Usage: ")


def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptvault.cli._output import colour_enabled

    class Tty:
        def isatty(self) -> bool:
            return True

    class Pipe:
        def isatty(self) -> bool:
            return False

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert colour_enabled(Tty())  # type: ignore[arg-type]
    assert not colour_enabled(Pipe())  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_enabled(Tty())  # type: ignore[arg-type]
