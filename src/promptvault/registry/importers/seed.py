"""``seed-json``: the single-JSON-file registry (see :mod:`promptvault.registry.seed`)."""

from __future__ import annotations

from pathlib import Path

from promptvault.registry.importers import Source
from promptvault.registry.seed import convert_seed
from promptvault.registry.transfer import read_json_file

__all__ = ["read_seed"]


def read_seed(path: Path, *, actor: str = "") -> Source:
    """The file's prompts; ``active_version`` becomes ``production``."""
    doc = convert_seed(read_json_file(path), actor=actor)
    notes = [
        f"{p['name']}: the file's own hashes are kept in each version's message"
        for p in doc["prompts"]
        if any("original hash" in v["message"] for v in p["versions"])
    ]
    return Source(prompts=doc["prompts"], not_carried=notes)
