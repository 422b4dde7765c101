"""Startup stays light: --version and --help load no database, server or template code.

(Typer itself loads pydantic to build any command's parameters; only ``--version`` alone
answers before Typer is imported.)
"""

from __future__ import annotations

import pytest

from .quick_paths import among, probe

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
    code, out, modules = probe(args)
    assert code == 0
    assert among(modules, HEAVY) == []
    if args in (["--version"], ["-V"]):
        assert among(modules, ("typer", "pydantic")) == []
    if args[-1] in ("--version", "-V"):
        assert out == "promptvault 0.1.0\n"
    else:
        assert out.startswith("Usage: ")


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
