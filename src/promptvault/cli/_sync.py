"""Files <-> registry: load a folder of prompt files, compare with versions, write atomically."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptvault._values import canonical_json
from promptvault.cli.files import Problem, PromptFile, discover, dump_prompt, parse_file
from promptvault.registry.validation import check_push, content_hash

if TYPE_CHECKING:
    from promptvault.entities import PromptVersion

__all__ = [
    "all_prompts",
    "as_version",
    "file_hash",
    "load_files",
    "same_content",
    "version_content",
]


def load_files(
    paths: list[Path], *, root: Path | None = None
) -> tuple[list[PromptFile], list[Problem], int]:
    """Parse every prompt file under ``paths``: (files, problems, number of files found).

    A file with shape problems is still returned when its template could be read, so that
    its template gets checked too; duplicate prompt names are problems.
    """
    found, problems = discover(paths)
    files: list[PromptFile] = []
    seen: dict[str, PromptFile] = {}
    for path in found:
        base = root if root is not None else (paths[0] if paths and paths[0].is_dir() else None)
        pf, file_problems = parse_file(path, root=base)
        problems.extend(file_problems)
        if pf is None:
            continue
        if pf.name in seen:
            problems.append(
                pf.problem(
                    f"prompt {pf.name!r} is also defined in {seen[pf.name].path}",
                    "name",
                )
            )
            continue
        seen[pf.name] = pf
        files.append(pf)
    return files, problems, len(found)


def file_hash(pf: PromptFile) -> str:
    """The registry's content hash of a file's version (what a push would store)."""
    checked = check_push(
        template=pf.template,
        syntax=pf.syntax,
        type=pf.type,
        config=pf.config,
        variables_schema=pf.variables_schema,
        tags=list(pf.tags),
        labels=[],
        partials=lambda _name: "",
    )
    return checked.hash


def version_content(version: Any) -> dict[str, Any]:
    """The content fields of a stored version, shaped like :meth:`PromptFile.content`."""
    return {
        "type": version.type,
        "syntax": version.syntax,
        "template": version.template,
        "config": dict(version.config),
        "variables_schema": version.variables_schema,
    }


def same_content(pf: PromptFile, version: Any) -> bool:
    """Whether pushing ``pf`` would be a no-op against ``version``."""
    if canonical_json(pf.content()) == canonical_json(version_content(version)):
        return True
    try:
        return bool(file_hash(pf) == version.hash)
    except Exception:  # a file the registry would reject is certainly not the same
        return False


def as_version(pf: PromptFile) -> PromptVersion:
    """A :class:`~promptvault.entities.PromptVersion` standing for a file (version 0)."""
    from promptvault.entities import PromptVersion

    return PromptVersion(
        name=pf.name,
        version=0,
        type=pf.type,
        syntax=pf.syntax,
        template=pf.template,
        config=pf.config,
        variables_schema=pf.variables_schema,
        created_at=datetime.now(UTC),
        hash=content_hash(**pf.content()),
    )


def all_prompts(backend: Any, **filters: Any) -> Iterator[Any]:
    """Every prompt summary, following the listing's pages."""
    after: str | None = None
    while True:
        page = backend.list_prompts(limit=100, after=after, **filters)
        yield from page
        if len(page) < 100:
            return
        after = page[-1].name


def render_file(version: Any, summary: Any, *, fmt: str) -> str:
    """The text ``pull`` writes for ``version`` (with the prompt's description and tags)."""
    return dump_prompt(
        version_content(version),
        fmt="json" if fmt == "json" else "yaml",
        description=getattr(summary, "description", "") or "",
        tags=tuple(getattr(summary, "tags", ()) or ()),
    )
