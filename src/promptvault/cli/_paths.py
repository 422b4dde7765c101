"""Where CLI commands may write: inside the folder they were given, nowhere else.

Prompt names become file paths (``prompts/<name>.yaml``). Names are validated everywhere, but
a database written by an older promptvault (or by hand) may still hold a name such as
``x/../../etc/y``, and a symlink inside the folder may point anywhere; so every write target
is resolved (following symlinks) and refused unless it stays inside its folder.
"""

from __future__ import annotations

from pathlib import Path

from promptvault.errors import InvalidInputError

__all__ = ["inside", "write_inside"]


def inside(folder: Path, target: Path) -> Path:
    """``target`` unchanged if it resolves to a path under ``folder``, else InvalidInputError."""
    root = folder.resolve()
    resolved = target.resolve()
    if resolved == root or not resolved.is_relative_to(root):
        raise InvalidInputError(
            f"refusing to write {target}: it resolves to {resolved}, outside {root}",
            details={"field": "path", "file": str(target), "folder": str(root)},
        )
    return target


def write_inside(folder: Path, target: Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically, after checking it stays inside ``folder``."""
    from promptvault._fileio import atomic_write

    atomic_write(inside(folder, target), text)
