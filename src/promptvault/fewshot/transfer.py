"""Import, export and search over a collection (the bulk and read side of ``vault.examples``).

Imports read every row first: each bad row becomes a :class:`~promptvault.fewshot.models.RowError`
naming its line. Without ``strict`` the good rows are added in one transaction (a bad row
rejects nothing else); with ``strict`` any bad row rejects the whole file and nothing is
written. Either way the write is one transaction: all of its rows or none.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from promptvault.entities import Example
from promptvault.errors import ConflictError, InvalidInputError
from promptvault.fewshot.embedders import EMBEDDERS, Vectors
from promptvault.fewshot.index import vector_bytes
from promptvault.fewshot.io import Format, dump_examples, parse_rows, sniff_format
from promptvault.fewshot.models import Collection, ImportReport, RowError
from promptvault.fewshot.runtime import not_found
from promptvault.storage.collection_repository import StoredCollection
from promptvault.storage.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from promptvault.fewshot.service import ExampleService, Progress

__all__ = ["EMBED_BATCH", "export_text", "import_file", "import_text", "reembed", "search"]

EMBED_BATCH = 256

_MAX_LISTED_ERRORS = 1000


def import_text(
    service: ExampleService,
    name: str,
    text: str,
    *,
    format: str | None = None,
    filename: str | None = None,
    strict: bool = False,
    actor: str = "",
    progress: Progress | None = None,
) -> ImportReport:
    """Import JSONL or CSV ``text`` into collection ``name`` (see the module docstring)."""
    service.get(name)  # an unknown collection fails before the file is read
    fmt: Format = sniff_format(filename, text) if format is None else format  # type: ignore[assignment]
    good: list[dict[str, Any]] = []
    errors: list[RowError] = []
    for _line, row in parse_rows(text, fmt):
        if isinstance(row, RowError):
            errors.append(row)
        else:
            good.append(row)
    rows = len(good) + len(errors)
    if strict and errors:
        first = errors[0]
        raise InvalidInputError(
            f"line {first.line}: {first.message} ({len(errors)} bad row"
            f"{'s' if len(errors) > 1 else ''}; strict import: nothing imported)",
            details={
                "field": first.field,
                "line": first.line,
                "errors": [e.model_dump() for e in errors[:_MAX_LISTED_ERRORS]],
                "rows": rows,
            },
        )
    ids: list[int] = []
    if good:
        added = service.add_many(
            name,
            good,
            actor=actor,
            progress=progress,
            action="example.import",
            audit={"rows": rows, "rejected": len(errors), "source": filename or fmt},
        )
        ids = [e.id for e in added]
    elif progress is not None:
        progress(0, 0)
    return ImportReport(
        collection=name, rows=rows, added=len(ids), ids=ids, errors=errors, strict=strict
    )


def import_file(
    service: ExampleService, name: str, path: str | Path, **options: Any
) -> ImportReport:
    """:func:`import_text` over a file (format from its extension unless given)."""
    file = Path(path)
    text = file.read_text(encoding="utf-8-sig")
    return import_text(service, name, text, filename=file.name, **options)


def export_text(service: ExampleService, name: str, *, format: str = "jsonl") -> str:
    """Every example of ``name`` as JSONL or CSV text, in id order."""
    if format not in ("jsonl", "csv"):
        raise InvalidInputError(
            f"format must be jsonl or csv, not {format!r}", details={"field": "format"}
        )
    return dump_examples(service.examples(name), format)  # type: ignore[arg-type]


def search(
    service: ExampleService,
    name: str,
    text: str,
    *,
    k: int = 5,
    category: Any = None,
    min_quality: float | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> list[tuple[Example, float]]:
    """The ``k`` examples whose input is most similar to ``text``, with cosine scores."""
    if not isinstance(text, str):
        raise InvalidInputError("the search text must be a string", details={"field": "text"})
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise InvalidInputError(f"k must be an integer >= 0, not {k!r}", details={"field": "k"})
    loaded = service.cache.get(name)
    index = loaded.index
    if index.n == 0 or k == 0:
        return []
    query = service.cache.query_vector(loaded, text)
    where = index.where(category=category, min_quality=min_quality, metadata=metadata)
    rows = index.select("semantic", k, query=query, where=where)
    scores = index.matrix[rows] @ query
    return [(e, float(s)) for e, s in zip(index.pick(rows), scores.tolist(), strict=True)]


def reembed(
    service: ExampleService,
    name: str,
    embedder: str,
    *,
    actor: str = "",
    progress: Progress | None = None,
) -> Collection:
    """Switch collection ``name`` to ``embedder`` and re-embed every example.

    Vectors are computed outside the transaction; the transaction refuses (conflict) when the
    collection changed meanwhile, so no example is left with a vector of the wrong space.
    """
    if embedder not in EMBEDDERS:
        raise InvalidInputError(
            f"embedder must be one of {', '.join(EMBEDDERS)}, not {embedder!r}",
            details={"field": "embedder", "value": repr(embedder)},
        )
    instance = service.embedder(embedder)
    before = service.get(name)
    with service.db.read_work() as work:
        stored = work.collections.find(name)
        if stored is None:
            raise not_found(name)
        records = work.collections.examples(stored.id, name)
    texts = [e.input for e in records]
    parts: list[Vectors] = []
    for start in range(0, len(texts), EMBED_BATCH):
        parts.append(instance.embed(texts[start : start + EMBED_BATCH]))
        if progress is not None:
            progress(min(start + EMBED_BATCH, len(texts)), len(texts))
    if progress is not None and not texts:
        progress(0, 0)
    vectors = np.concatenate(parts) if parts else np.zeros((0, instance.dim), np.float32)
    spec, dim = instance.spec, instance.dim

    def change(work: UnitOfWork, stored: StoredCollection) -> dict[str, Any]:
        if stored.revision != before.revision:
            raise ConflictError(
                f"collection {name!r} changed while it was being re-embedded; try again",
                details={"field": "revision", "expected": before.revision},
            )
        work.collections.set_embeddings(
            [(e.id, vector_bytes(v)) for e, v in zip(records, vectors, strict=True)]
        )
        work.collections.update(stored.id, embedder=embedder, embedder_spec=spec, dim=dim)
        return {"from": before.embedder_spec, "to": spec, "examples": len(records)}

    service._write(name, change, "collection.embedder", actor, reload=True)
    return service.get(name)
