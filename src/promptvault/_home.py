"""The default data directory, importable without pydantic (the CLI's read path needs it)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["default_home"]


def default_home() -> Path:
    """The platform's per-user data directory for promptvault."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "promptvault"
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "promptvault"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "promptvault"
