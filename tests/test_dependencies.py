"""Dependencies: only their public APIs, and the bounds pyproject.toml states are honest.

CI installs from ``constraints.txt``; these checks keep an upstream release that the bounds
allow from turning the build red with no change here.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "promptvault"


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
    return found


def _private(module: str) -> bool:
    """Whether a dotted name goes through a private part (``typer._click``), dunders aside."""
    return any(p.startswith("_") and not p.startswith("__") for p in module.split("."))


def test_src_imports_no_private_module_of_a_dependency() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        for line, module in _imported_modules(path):
            if module.split(".")[0] in {"promptvault", "__future__"}:
                continue
            if _private(module):
                offenders.append(f"{path.relative_to(SRC.parent)}:{line}: {module}")
    assert offenders == []
