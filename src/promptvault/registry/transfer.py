"""Export and import of prompts as portable JSON (moving prompts between vaults).

The export keeps every version with its number, hash, author and creation time, every label
and the whole label history, tags, descriptions and archive flags. It is not a backup of the
database: collections, experiments, API keys and the audit log are not in it (that is
:mod:`promptvault.storage.backup`); the importing database records the import in its own
audit chain. An import runs in one transaction, checks every version's hash, and refuses
names that already exist, so it either imports everything or nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from promptvault._fileio import atomic_write
from promptvault.entities import JSON_MAX_BYTES, check_json_bounds
from promptvault.errors import ConflictError, InvalidInputError
from promptvault.registry.refs import check_label, check_name
from promptvault.registry.validation import content_hash
from promptvault.storage.database import Database
from promptvault.storage.prompt_repository import StoredLabelEvent
from promptvault.storage.unit_of_work import UnitOfWork, utcnow

__all__ = [
    "FORMAT",
    "dump_registry",
    "export_registry",
    "import_registry",
    "insert_prompt",
    "load_registry",
    "read_json_file",
]

FORMAT = "promptvault-export"
FORMAT_VERSION = 1


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _parse_time(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInputError(
                f"{field} is not an ISO date-time: {value!r}", details={"field": field}
            ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def dump_registry(work: UnitOfWork) -> dict[str, Any]:
    """The whole registry as a JSON-ready dict."""
    out = []
    for prompt in work.prompts.stored_prompts():
        versions = work.prompts.stored_versions(prompt.id)  # oldest first
        events = work.prompts.stored_label_events(prompt.id)
        out.append(
            {
                "name": prompt.name,
                "description": prompt.description,
                "type": prompt.type,
                "archived": prompt.archived,
                "created_at": _iso(prompt.created_at),
                "created_by": prompt.created_by,
                "updated_at": _iso(prompt.updated_at),
                "updated_by": prompt.updated_by,
                "tags": list(prompt.tags),
                "labels": prompt.labels,
                "versions": [
                    {
                        "version": v.version,
                        "type": v.type,
                        "syntax": v.syntax,
                        "template": v.template,
                        "config": v.config,
                        "variables_schema": v.variables_schema,
                        "message": v.message,
                        "author": v.author,
                        "created_at": _iso(v.created_at),
                        "hash": v.hash,
                    }
                    for v in versions
                ],
                "label_history": [
                    {
                        "label": e.label,
                        "from_version": e.from_version,
                        "to_version": e.to_version,
                        "action": e.action,
                        "actor": e.actor,
                        "at": _iso(e.at),
                    }
                    for e in events
                ],
            }
        )
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": _iso(utcnow()),
        "prompts": out,
    }


def export_registry(db: Database, path: Path) -> int:
    """Write the export to ``path``; returns the number of prompts."""
    with db.read_work() as work:
        data = dump_registry(work)
    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=1))
    return len(data["prompts"])


def insert_prompt(work: UnitOfWork, item: dict[str, Any], index: int) -> int:
    """Insert one exported prompt (``prompts[index]``) with its versions, labels and
    history; the name must be new. Returns the number of versions."""
    where = f"prompts[{index}]"
    name = check_name(item.get("name"), field=f"{where}.name")
    if work.prompts.get(name) is not None:
        raise ConflictError(
            f"prompt {name!r} already exists; the import was not applied",
            details={"field": f"{where}.name", "name": name},
        )
    versions = sorted(item.get("versions") or [], key=lambda v: int(v["version"]))
    created = _parse_time(item.get("created_at") or utcnow(), f"{where}.created_at")
    updated = _parse_time(item.get("updated_at") or created, f"{where}.updated_at")
    prompt_id = work.prompts.insert_stored(
        name=name,
        description=str(item.get("description") or ""),
        type=str(item.get("type") or "text"),
        archived=bool(item.get("archived", False)),
        latest_version=int(versions[-1]["version"]) if versions else 0,
        created_at=created,
        created_by=str(item.get("created_by") or ""),
        updated_at=updated,
        updated_by=str(item.get("updated_by") or ""),
    )
    by_number: dict[int, int] = {}
    for j, v in enumerate(versions):
        vwhere = f"{where}.versions[{j}]"
        for key, size in (("template", 1 << 30), ("config", None), ("variables_schema", None)):
            # The same bounds as a push: a backup must not store what no push could.
            check_json_bounds(v.get(key), f"{vwhere}.{key}", max_bytes=size or JSON_MAX_BYTES)
        digest = content_hash(
            template=v["template"],
            syntax=v.get("syntax", "mustache"),
            type=v.get("type", "text"),
            config=v.get("config") or {},
            variables_schema=v.get("variables_schema"),
        )
        if v.get("hash") and v["hash"] != digest:
            raise InvalidInputError(
                f"{name} version {v['version']}: content does not match its hash "
                "(the file was edited or damaged)",
                details={"field": f"{vwhere}.hash", "name": name, "version": v["version"]},
            )
        by_number[int(v["version"])] = work.prompts.insert_version(
            prompt_id,
            int(v["version"]),
            type=v.get("type", "text"),
            syntax=v.get("syntax", "mustache"),
            template=v["template"],
            config=v.get("config") or {},
            variables_schema=v.get("variables_schema"),
            message=str(v.get("message") or ""),
            author=str(v.get("author") or ""),
            created_at=_parse_time(v.get("created_at") or created, f"{vwhere}.created_at"),
            hash=digest,
        )
    for label, number in (item.get("labels") or {}).items():
        check_label(label, field=f"{where}.labels")
        if int(number) not in by_number:
            raise InvalidInputError(
                f"{name}: label {label!r} points at missing version {number}",
                details={"field": f"{where}.labels.{label}"},
            )
        work.prompts.set_label(prompt_id, label, by_number[int(number)], actor="", at=updated)
    work.prompts.add_label_events(
        prompt_id,
        [
            StoredLabelEvent(
                label=str(e["label"]),
                from_version=e.get("from_version"),
                to_version=int(e["to_version"]),
                action=str(e.get("action") or "set"),
                actor=str(e.get("actor") or ""),
                at=_parse_time(e.get("at") or created, f"{where}.label_history[{k}].at"),
            )
            for k, e in enumerate(item.get("label_history") or [])
        ],
    )
    work.prompts.add_tags(prompt_id, [str(t) for t in item.get("tags") or []])
    return len(versions)


def load_registry(
    work: UnitOfWork, data: dict[str, Any], *, actor: str, source: str
) -> tuple[int, int]:
    """Insert an export in ``work``'s transaction; returns (prompts, versions)."""
    if data.get("format") != FORMAT:
        raise InvalidInputError(
            f"not a promptvault export (format {data.get('format')!r})",
            details={"field": "format"},
        )
    items = data.get("prompts")
    if not isinstance(items, list):
        raise InvalidInputError("prompts must be a list", details={"field": "prompts"})
    versions = 0
    for index, item in enumerate(items):
        try:
            versions += insert_prompt(work, item, index)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"prompts[{index}] is malformed: {exc!r}", details={"field": f"prompts[{index}]"}
            ) from exc
    work.audit(
        actor=actor,
        action="registry.import",
        target="registry",
        details={
            "source": source,
            "prompts": [str(i.get("name")) for i in items],
            "versions": versions,
        },
    )
    return len(items), versions


def read_json_file(path: Path) -> Any:
    """The JSON value in ``path``; an unreadable or malformed file is InvalidInputError."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise InvalidInputError(
            f"cannot read {path}: {exc}", details={"field": "path", "path": str(path)}
        ) from None


def import_registry(db: Database, path: Path, *, actor: str = "") -> int:
    """Import an export file; all or nothing. Returns the number of prompts."""
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise InvalidInputError("an export file holds a JSON object", details={"field": "path"})
    prompts, _ = db.write_work(
        lambda work: load_registry(work, data, actor=actor, source=Path(path).name)
    )
    return prompts
