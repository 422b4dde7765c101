"""Importers from other prompt tools: Langfuse, Humanloop, LangChain and the JSON-file registry.

Each format's module reads its source into a promptvault export document (the shape of
:mod:`promptvault.registry.transfer`) plus notes on what it could not carry over; this
module writes the document in one transaction. An import is all or nothing and idempotent:
a prompt already here with the same versions (number and content) is left alone, so a
second import creates nothing; one here with different content is a conflict and nothing
is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptvault.errors import ConflictError, InvalidInputError
from promptvault.registry.transfer import insert_prompt
from promptvault.registry.validation import content_hash
from promptvault.storage.database import Database
from promptvault.storage.unit_of_work import UnitOfWork

__all__ = ["FORMATS", "ImportReport", "Source", "apply_import", "read_source"]


@dataclass
class Source:
    """What a format's reader produced: prompts as export items, and what was left out."""

    prompts: list[dict[str, Any]]
    not_carried: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    """What an import did: prompts created and left alone, versions written, and losses."""

    format: str
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    versions: int = 0
    not_carried: list[str] = field(default_factory=list)


def _seed(path: str | Path, options: dict[str, Any]) -> Source:
    from promptvault.registry.importers.seed import read_seed

    return read_seed(Path(path), actor=str(options.get("actor") or ""))


def _langfuse(path: str | Path | None, options: dict[str, Any]) -> Source:
    from promptvault.registry.importers.langfuse import read_langfuse

    host = options.get("host") or (str(path) if path else None)
    if not host:
        raise InvalidInputError(
            "a Langfuse import needs the server's address (--host)", details={"field": "host"}
        )
    return read_langfuse(
        str(host),
        public_key=str(options.get("public_key") or ""),
        secret_key=str(options.get("secret_key") or ""),
    )


def _humanloop(path: str | Path, options: dict[str, Any]) -> Source:
    from promptvault.registry.importers.humanloop import read_humanloop

    return read_humanloop(Path(path))


def _langchain(path: str | Path, options: dict[str, Any]) -> Source:
    from promptvault.registry.importers.langchain import read_langchain

    return read_langchain(Path(path))


FORMATS: dict[str, Callable[[Any, dict[str, Any]], Source]] = {
    "langfuse": _langfuse,
    "humanloop": _humanloop,
    "langchain": _langchain,
    "seed-json": _seed,
}


def read_source(format: str, source: str | Path | None, **options: Any) -> Source:
    """Read ``source`` in ``format`` (nothing is written)."""
    reader = FORMATS.get(format)
    if reader is None:
        raise InvalidInputError(
            f"unknown import format {format!r}: use {', '.join(FORMATS)}",
            details={"field": "format", "value": format, "allowed": list(FORMATS)},
        )
    if source is None and format != "langfuse":
        raise InvalidInputError(f"{format} imports read a path", details={"field": "path"})
    return reader(source, options)


def _same(work: UnitOfWork, prompt_id: int, item: dict[str, Any]) -> str | None:
    """None when every version of ``item`` is stored with the same content, else why not."""
    for v in item.get("versions") or []:
        stored = work.prompts.version_hash(prompt_id, int(v["version"]))
        digest = content_hash(
            template=v["template"],
            syntax=v.get("syntax", "mustache"),
            type=v.get("type", "text"),
            config=v.get("config") or {},
            variables_schema=v.get("variables_schema"),
        )
        if stored is None:
            return f"version {v['version']} is not here"
        if stored != digest:
            return f"version {v['version']} differs from the one here"
    return None


def apply_import(
    db: Database, source: Source, *, format: str, actor: str, origin: str
) -> ImportReport:
    """Write ``source`` in one transaction: new prompts created, identical ones left alone."""

    def change(work: UnitOfWork) -> ImportReport:
        report = ImportReport(format=format, not_carried=list(source.not_carried))
        for index, item in enumerate(source.prompts):
            name = str(item.get("name"))
            existing = work.prompts.get(name)
            if existing is not None:
                why = _same(work, existing.id, item)
                if why is not None:
                    raise ConflictError(
                        f"prompt {name!r} already exists and {why}; nothing was imported",
                        details={"field": f"prompts[{index}].name", "name": name},
                    )
                report.unchanged.append(name)
                continue
            try:
                report.versions += insert_prompt(work, item, index)
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"{name}: {exc!r}", details={"field": f"prompts[{index}]", "name": name}
                ) from exc
            report.created.append(name)
        if report.created:
            work.audit(
                actor=actor,
                action="registry.import",
                target="registry",
                details={
                    "source": origin,
                    "format": format,
                    "prompts": report.created,
                    "versions": report.versions,
                },
            )
        return report

    report: ImportReport = db.write_work(change)
    return report
