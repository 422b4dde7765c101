"""Repository of few-shot collections and examples: queries that take a session.

Business rules (names, embedders, import checks, the audit trail) live in
``promptvault.fewshot.service``; this module knows SQL and rows and hands back entities or
plain tuples. Embeddings are stored as the raw bytes of a float32 vector (little-endian,
``dim * 4`` bytes), which both SQLite and PostgreSQL keep as an opaque blob.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from promptvault.entities import Example
from promptvault.storage.tables import CollectionRow, ExampleRow, PromptRow

__all__ = [
    "ExampleRecord",
    "near_collection_names",
    "add_usage",
    "bump_revision",
    "collection_row",
    "collections",
    "delete_examples",
    "example_rows",
    "insert_examples",
    "load_records",
    "prompt_id",
    "revision_of",
    "set_embeddings",
    "to_collection",
    "to_example",
    "update_example",
]


# The Core table, for executemany statements that bind per-row parameters.
_EXAMPLES = cast(Table, ExampleRow.__table__)


class ExampleRecord(NamedTuple):
    """One example as loaded for the in-memory index: the entity and its vector bytes."""

    example: Example
    embedding: bytes


def prompt_id(session: Session, name: str) -> int | None:
    """The id of the prompt called ``name``, or None."""
    found: int | None = session.execute(
        select(PromptRow.id).where(PromptRow.name == name)
    ).scalar_one_or_none()
    return found


def collection_row(session: Session, name: str) -> CollectionRow | None:
    """The collection row named ``name``, or None."""
    return session.execute(
        select(CollectionRow).where(CollectionRow.name == name)
    ).scalar_one_or_none()


def revision_of(session: Session, name: str) -> int | None:
    """The collection's revision in one indexed lookup (None when it does not exist)."""
    found: int | None = session.execute(
        select(CollectionRow.revision).where(CollectionRow.name == name)
    ).scalar_one_or_none()
    return found


def to_collection(row: CollectionRow, *, size: int, prompt: str | None) -> dict[str, Any]:
    """The fields of a collection row (the service builds its ``Collection`` value from them;
    storage sits below the few-shot package and cannot import it)."""
    return dict(
        name=row.name,
        description=row.description,
        embedder=row.embedder,
        embedder_spec=row.embedder_spec,
        dim=row.dim,
        example_template=row.example_template,
        query_template=row.query_template,
        prompt=prompt,
        strategy=row.strategy,
        k=row.k,
        token_budget=row.token_budget,
        revision=row.revision,
        size=size,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def near_collection_names(session: Session, name: str) -> list[str]:
    """Collection names close to ``name``, from the name index (for "did you mean")."""
    from promptvault.storage.repositories import near_names

    return near_names(session, CollectionRow.name, name)


def collections(
    session: Session, *, name: str | None = None, prompt: str | None = None
) -> list[dict[str, Any]]:
    """Collections by name (one, those attached to ``prompt``, or all), with sizes."""
    # Counted per collection row (a correlated count over the collection_id index), so
    # asking for one collection does not count the examples of every other one.
    size = (
        select(func.count())
        .select_from(ExampleRow)
        .where(ExampleRow.collection_id == CollectionRow.id)
        .correlate(CollectionRow)
        .scalar_subquery()
    )
    query = (
        select(CollectionRow, size, PromptRow.name)
        .outerjoin(PromptRow, PromptRow.id == CollectionRow.prompt_id)
        .order_by(CollectionRow.name)
    )
    if name is not None:
        query = query.where(CollectionRow.name == name)
    if prompt is not None:
        query = query.where(PromptRow.name == prompt)
    return [
        to_collection(row, size=int(size), prompt=pname)
        for row, size, pname in session.execute(query).all()
    ]


def bump_revision(session: Session, collection_id: int, *, actor: str, at: datetime) -> int:
    """Add one to the collection's revision (and stamp the update); returns the new one."""
    session.execute(
        update(CollectionRow)
        .where(CollectionRow.id == collection_id)
        .values(revision=CollectionRow.revision + 1, updated_at=at, updated_by=actor)
    )
    revision: int = session.execute(
        select(CollectionRow.revision).where(CollectionRow.id == collection_id)
    ).scalar_one()
    return revision


_COLUMNS = (
    ExampleRow.id,
    ExampleRow.input,
    ExampleRow.output,
    ExampleRow.category,
    ExampleRow.quality,
    ExampleRow.meta,
    ExampleRow.created_at,
    ExampleRow.usage_count,
)


def to_example(row: Any, collection: str) -> Example:
    """The entity for a row of the ``_COLUMNS`` shape."""
    return Example.model_construct(
        id=row[0],
        collection=collection,
        input=row[1],
        output=row[2],
        category=row[3],
        quality=float(row[4]),
        metadata=dict(row[5] or {}),
        created_at=row[6],
        usage_count=int(row[7]),
    )


def load_records(session: Session, collection_id: int, collection: str) -> list[ExampleRecord]:
    """Every example of a collection with its vector bytes, in id order."""
    rows = session.execute(
        select(*_COLUMNS, ExampleRow.embedding)
        .where(ExampleRow.collection_id == collection_id)
        .order_by(ExampleRow.id)
    ).all()
    return [ExampleRecord(to_example(row, collection), bytes(row[8])) for row in rows]


def example_rows(
    session: Session,
    collection_id: int,
    collection: str,
    *,
    ids: Sequence[int] | None = None,
    category: str | None = None,
    limit: int | None = None,
    after: int | None = None,
    contains: str | None = None,
) -> list[Example]:
    """Examples in id order, filtered; ``after`` is the last id of the previous page.

    ``contains`` keeps examples whose input or output holds that text, case-insensitively
    (``%`` and ``_`` match themselves).
    """
    query = select(*_COLUMNS).where(ExampleRow.collection_id == collection_id)
    if contains:
        query = query.where(
            or_(
                ExampleRow.input.icontains(contains, autoescape=True),
                ExampleRow.output.icontains(contains, autoescape=True),
            )
        )
    if ids is not None:
        query = query.where(ExampleRow.id.in_(list(ids)))
    if category is not None:
        query = query.where(ExampleRow.category == category)
    if after is not None:
        query = query.where(ExampleRow.id > after)
    query = query.order_by(ExampleRow.id)
    if limit is not None:
        query = query.limit(limit)
    return [to_example(row, collection) for row in session.execute(query).all()]


def categories(session: Session, collection_id: int, *, limit: int = 200) -> list[str]:
    """The distinct categories used in a collection, sorted."""
    query = (
        select(ExampleRow.category)
        .where(ExampleRow.collection_id == collection_id, ExampleRow.category.is_not(None))
        .distinct()
        .order_by(ExampleRow.category)
        .limit(limit)
    )
    return [str(c) for c in session.execute(query).scalars()]


def insert_examples(
    session: Session, collection_id: int, rows: Sequence[Mapping[str, Any]], *, at: datetime
) -> list[int]:
    """Insert examples (``input, output, category, quality, metadata, embedding``); ids in order."""
    if not rows:
        return []
    values = [
        {
            "collection_id": collection_id,
            "input": r["input"],
            "output": r["output"],
            "category": r.get("category"),
            "quality": float(r.get("quality", 1.0)),
            "metadata": dict(r.get("metadata") or {}),
            "created_at": at,
            "usage_count": 0,
            "embedding": r["embedding"],
        }
        for r in rows
    ]
    # One INSERT ... RETURNING for the whole batch, ids in parameter order (SQLAlchemy's
    # "insertmanyvalues"), on SQLite and PostgreSQL alike.
    table = _EXAMPLES
    result = session.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), values
    )
    return [int(row[0]) for row in result.all()]


def update_example(session: Session, example_id: int, values: Mapping[str, Any]) -> None:
    """Change some columns of one example (``metadata`` for the JSON column)."""
    fields = {("meta" if k == "metadata" else k): v for k, v in values.items()}
    session.execute(update(ExampleRow).where(ExampleRow.id == example_id).values(**fields))


def delete_examples(session: Session, collection_id: int, ids: Iterable[int]) -> list[int]:
    """Delete examples of one collection by id; returns the ids that existed."""
    wanted = list(ids)
    found = [
        int(i)
        for i in session.execute(
            select(ExampleRow.id).where(
                ExampleRow.collection_id == collection_id, ExampleRow.id.in_(wanted)
            )
        ).scalars()
    ]
    if found:
        session.execute(delete(ExampleRow).where(ExampleRow.id.in_(found)))
    return found


def set_embeddings(session: Session, vectors: Sequence[tuple[int, bytes]]) -> None:
    """Replace the embeddings of many examples (executemany of one UPDATE)."""
    if not vectors:
        return
    table = _EXAMPLES
    session.execute(
        update(table).where(table.c.id == bindparam("_id")).values(embedding=bindparam("_emb")),
        [{"_id": i, "_emb": b} for i, b in vectors],
    )


def add_usage(session: Session, counts: Mapping[int, int]) -> None:
    """Add ``counts[id]`` to each example's usage count (rows deleted since are skipped)."""
    if not counts:
        return
    table = _EXAMPLES
    session.execute(
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values(usage_count=table.c.usage_count + bindparam("_n")),
        [{"_id": i, "_n": n} for i, n in sorted(counts.items())],
    )
