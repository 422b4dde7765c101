"""Whole-file writes that a crash or a concurrent reader never sees half done.

Used by every layer that writes a file a person or another process reads back (``pull``,
``init``, registry backups, the SDK's last-known-good copies), so it imports nothing from
promptvault and sits below every layer.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "read_or_create_secret"]


def atomic_write(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` through a temp file and a rename.

    The temp file sits in the same directory (a rename is only atomic within one file
    system) and is flushed to disk before the rename, so ``path`` holds either the old
    content or the new, never a torn mix. A file that already exists keeps its permissions;
    a new one gets ``mode``. Missing parent directories are created.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            mode = path.stat().st_mode & 0o7777
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_or_create_secret(path: Path) -> str:
    """The hex secret stored in ``path``; the first caller creates it (32 random bytes, 0600).

    Written to a private temp file, then hard-linked into place: ``link()`` fails when the
    file exists, so processes starting together all end up with the first one's secret,
    and nobody ever reads a half-written file.
    """
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip()
