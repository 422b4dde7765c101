"""Import the widely copied single-JSON-file registry format.

That format is one JSON object keyed by prompt name::

    {"customer_support": {"name": "customer_support", "active_version": 2, "tags": ["support"],
      "versions": [{"version": 1, "template": "Hi {customer_name}...", "variables": [...],
                    "model": "gpt-4o", "temperature": 0.7, "max_tokens": 500,
                    "created_at": "2024-05-01T10:00:00", "created_by": "alice", "hash": "..."}]}}

A version's declared ``variables`` are its only placeholders, written ``{{var}}`` or, in
files made for ``str.format``, ``{var}`` (whichever form the declared names appear in).
Everything else in the text is literal and renders exactly as written: single braces in a
``{{var}}`` file, and any placeholder the file does not declare, so a stray ``{{note}}``
does not make every render fail. The stored Mustache keeps the text as it is whenever it
holds no other ``{{`` (see :mod:`promptvault.registry.importers._text`). Declared variables
become a variables schema that requires them. Version numbers, authors and times are
kept; ``active_version`` becomes ``production`` (the newest version when it is missing).
The file's own hashes are not ours (they hash other fields), so each version records the
original in its commit message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from promptvault.errors import InvalidInputError, PromptVaultError
from promptvault.registry.importers._text import Piece, to_mustache
from promptvault.registry.refs import check_name
from promptvault.registry.service import Registry
from promptvault.registry.transfer import FORMAT, load_registry, read_json_file
from promptvault.registry.validation import check_push

__all__ = ["convert_seed", "import_seed", "seed_template_to_mustache"]

_DOUBLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_SINGLE = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def seed_template_to_mustache(template: str, variables: list[str]) -> str:
    """Mustache rendering ``template`` as the JSON-file registry did (module docstring)."""
    declared = set(variables)
    double = any(m.group(1) in declared for m in _DOUBLE.finditer(template))
    pattern = _DOUBLE if double else _SINGLE
    pieces: list[Piece] = []
    at = 0
    for match in pattern.finditer(template):
        if match.group(1) not in declared:
            continue
        pieces.extend([template[at : match.start()], ("var", match.group(1))])
        at = match.end()
    pieces.append(template[at:])
    return to_mustache([p for p in pieces if p != ""])


def _seed_version(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or "template" not in raw or "version" not in raw:
        raise InvalidInputError(
            f"{where} needs at least version and template", details={"field": where}
        )
    variables = [str(v) for v in raw.get("variables") or []]
    template = seed_template_to_mustache(str(raw["template"]), variables)
    config = {
        key: raw[key] for key in ("model", "temperature", "max_tokens") if raw.get(key) is not None
    }
    schema = (
        {
            "type": "object",
            "properties": {v: {} for v in variables},
            "required": sorted(variables),
        }
        if variables
        else None
    )
    try:
        checked = check_push(
            template=template,
            syntax="mustache",
            type="text",
            config=config,
            variables_schema=schema,
            tags=None,
            labels=None,
            partials=lambda _ref: "",
        )
    except PromptVaultError as err:
        err.details.setdefault("location", where)
        raise
    message = "imported from the JSON-file registry"
    if raw.get("hash"):
        message += f" (original hash {raw['hash']})"
    return {
        "version": int(raw["version"]),
        "type": "text",
        "syntax": "mustache",
        "template": checked.template,
        "config": checked.config,
        "variables_schema": checked.variables_schema,
        "message": message,
        "author": str(raw.get("created_by") or ""),
        "created_at": raw.get("created_at"),
        "hash": checked.hash,
    }


def convert_seed(data: Any, *, actor: str = "") -> dict[str, Any]:
    """The seed registry as a promptvault export document."""
    if not isinstance(data, dict):
        raise InvalidInputError(
            "a JSON-file registry is an object keyed by prompt name", details={"field": "$"}
        )
    prompts = []
    for key, entry in sorted(data.items()):
        if not isinstance(entry, dict):
            raise InvalidInputError(f"{key!r} must be an object", details={"field": key})
        name = check_name(str(entry.get("name") or key), field=f"{key}.name")
        versions = [
            _seed_version(v, f"{key}.versions[{i}]")
            for i, v in enumerate(entry.get("versions") or [])
        ]
        if not versions:
            raise InvalidInputError(f"{key!r} has no versions", details={"field": f"{key}"})
        versions.sort(key=lambda v: v["version"])
        numbers = [v["version"] for v in versions]
        if len(set(numbers)) != len(numbers):
            raise InvalidInputError(
                f"{key!r} repeats a version number", details={"field": f"{key}.versions"}
            )
        active = entry.get("active_version") or numbers[-1]
        if active not in numbers:
            raise InvalidInputError(
                f"{key!r}: active_version {active} is not one of its versions",
                details={"field": f"{key}.active_version"},
            )
        first = versions[0]["created_at"] or None
        last = versions[-1]["created_at"] or None
        prompts.append(
            {
                "name": name,
                "description": str(entry.get("description") or ""),
                "type": "text",
                "archived": False,
                "created_at": first,
                "created_by": versions[0]["author"],
                "updated_at": last,
                "updated_by": actor,
                "tags": [str(t) for t in entry.get("tags") or []],
                "labels": {"production": active},
                "versions": versions,
                "label_history": [
                    {
                        "label": "production",
                        "from_version": None,
                        "to_version": active,
                        "action": "set",
                        "actor": actor,
                        "at": last,
                    }
                ],
            }
        )
    return {"format": FORMAT, "format_version": 1, "prompts": prompts}


def import_seed(registry: Registry, path: Path, *, actor: str = "") -> int:
    """Import a JSON-file registry in one transaction; returns the number of prompts."""
    actor = actor or registry.actor
    doc = convert_seed(read_json_file(path), actor=actor)
    count, _ = registry.db.write_work(
        lambda work: load_registry(work, doc, actor=actor, source=f"seed:{Path(path).name}")
    )
    return count
