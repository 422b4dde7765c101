"""The repository is self-contained: a clone of it alone installs and runs its tests.

Nothing under ``tests/`` may read files beside the repository (a sibling folder and the like),
and ``pyproject.toml`` names only documents that are in the repository.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# A path built to leave the repository: Path(...) / ".." / "x". (Strings such as "a/../b"
# are test data for path checks, not files read.)
_UP = re.compile(r"""/\s*["']\.\.["']""")
_PARENTS = re.compile(r"parents\[(\d+)\]")


def _leaves_repository(path: Path, line: str) -> bool:
    if _UP.search(line):
        return True
    # Path(__file__).parents[n] is outside once n reaches the file's depth in the repository.
    depth = len(path.relative_to(REPO).parts)
    return any(int(n) >= depth for n in _PARENTS.findall(line))


def test_tests_read_nothing_outside_the_repository() -> None:
    offenders = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        if path.samefile(__file__):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _leaves_repository(path, line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []


def test_mustache_spec_is_vendored_with_its_licence() -> None:
    spec = REPO / "tests" / "templating" / "data" / "mustache-spec"
    assert {p.name for p in spec.glob("*.json")} >= {
        "comments.json",
        "interpolation.json",
        "inverted.json",
        "partials.json",
        "sections.json",
    }
    assert "Mustache Contributors" in (spec / "LICENSE").read_text(encoding="utf-8")


def test_pyproject_names_only_documents_in_the_repository() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    named = [project["project"]["readme"]]
    named += project["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    named += project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    missing = [name for name in named if not (REPO / name).exists()]
    assert missing == []
