"""The files an import reads: one file, or every file with a suffix under a folder."""

from __future__ import annotations

from pathlib import Path

from promptvault.errors import InvalidInputError

__all__ = ["files_named", "read_text"]


def files_named(path: Path, suffix: str) -> list[tuple[str, Path]]:
    """``(prompt name, file)`` pairs: a folder's files are named by their path in it."""
    if path.is_dir():
        found = sorted(p for p in path.rglob(f"*{suffix}") if p.is_file())
        return [(p.relative_to(path).with_suffix("").as_posix(), p) for p in found]
    if path.is_file():
        return [(path.with_suffix("").name, path)]
    raise InvalidInputError(f"no file or folder at {path}", details={"field": "path"})


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"cannot read {path}: {exc}", details={"field": "path", "path": str(path)}
        ) from None
