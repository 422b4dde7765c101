"""Repositories: queries over the registry tables that take a session and return entities.

Functions here know SQL and rows; business rules (validation, label semantics, hashing, the
audit trail) live in ``promptvault.registry``. A few functions return rows because the
registry updates them in the same transaction; rows never leave the storage and registry
layers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from promptvault.entities import LabelEvent, PromptSummary, PromptVersion, as_syntax, clamp_json
from promptvault.storage.database import ACTOR_INFO_KEY, lock_prompt
from promptvault.storage.tables import LabelEventRow, LabelRow, PromptRow, TagRow, VersionRow

__all__ = [
    "add_tags",
    "all_prompt_names",
    "near_names",
    "near_prompt_names",
    "create_prompt",
    "delete_label_row",
    "get_prompt",
    "insert_label_event",
    "insert_version",
    "label_event",
    "label_events",
    "labels_by_prompt",
    "labels_of",
    "list_prompt_rows",
    "prompt_summary",
    "push_head",
    "resolve_state",
    "set_label_row",
    "summaries",
    "tags_by_prompt",
    "to_label_event",
    "to_version",
    "touch_prompt",
    "version_numbers",
    "version_row",
    "versions_page",
]


# --- prompts ---------------------------------------------------------------------------


def get_prompt(session: Session, name: str) -> PromptRow | None:
    """The prompt row named ``name``, or None."""
    return session.execute(select(PromptRow).where(PromptRow.name == name)).scalar_one_or_none()


# Statements on the push path are built once: SQLAlchemy then only binds parameters and
# finds the compiled SQL in its cache, instead of rebuilding the expression on every push.
_PUSH_HEAD = (
    select(
        PromptRow.id,
        PromptRow.archived,
        PromptRow.latest_version,
        PromptRow.description,
        VersionRow.id.label("newest_id"),
        VersionRow.hash.label("newest_hash"),
    )
    .outerjoin(
        VersionRow,
        and_(
            VersionRow.prompt_id == PromptRow.id,
            VersionRow.version == PromptRow.latest_version,
        ),
    )
    .where(PromptRow.name == bindparam("name"))
)
_INSERT_VERSION = insert(VersionRow).returning(VersionRow.id)
_TOUCH = (
    update(PromptRow)
    .where(PromptRow.id == bindparam("pid"))
    .values(updated_at=bindparam("at"), updated_by=bindparam("actor"))
)
_TOUCH_LATEST = (
    update(PromptRow)
    .where(PromptRow.id == bindparam("pid"))
    .values(
        updated_at=bindparam("at"),
        updated_by=bindparam("actor"),
        latest_version=bindparam("latest"),
        type=bindparam("ptype"),
    )
)


def push_head(session: Session, name: str) -> Any:
    """What a push needs in one query: the prompt and its newest version's id and hash.

    Columns: ``id, archived, latest_version, description, newest_id, newest_hash``. Takes
    the prompt's lock first, so the head read is the newest committed one and concurrent
    pushes to this name number their versions one after another.
    """
    lock_prompt(session, name)
    return session.connection().execute(_PUSH_HEAD, {"name": name}).first()


def touch_prompt(
    session: Session, prompt_id: int, *, at: datetime, actor: str, **values: Any
) -> None:
    """Set ``updated_at``/``updated_by`` (and any other ``values``) on a prompt row."""
    if not values:
        session.connection().execute(_TOUCH, {"pid": prompt_id, "at": at, "actor": actor})
    elif set(values) == {"latest_version", "type"}:
        session.connection().execute(
            _TOUCH_LATEST,
            {
                "pid": prompt_id,
                "at": at,
                "actor": actor,
                "latest": values["latest_version"],
                "ptype": values["type"],
            },
        )
    else:
        session.execute(
            update(PromptRow)
            .where(PromptRow.id == prompt_id)
            .values(updated_at=at, updated_by=actor, **values)
        )


def all_prompt_names(session: Session) -> list[str]:
    """Every prompt name."""
    return list(session.execute(select(PromptRow.name)).scalars())


def near_names(session: Session, column: Any, name: str, *, limit: int = 12) -> list[str]:
    """A bounded set of names close to ``name``, read from the unique index on ``column``.

    For "did you mean": the names next to ``name`` in index order on both sides (a typo
    after the first characters sorts close by), also around its lower-case and first-letter
    case-swapped forms. At most ``limit`` names per window, so a miss costs a few index
    range scans however many names exist, instead of reading every name.
    """
    found: dict[str, None] = {}
    for probe in dict.fromkeys((name, name.lower(), name[:1].swapcase() + name[1:])):
        if not probe:
            continue
        after = select(column).where(column >= probe).order_by(column).limit(limit)
        before = select(column).where(column < probe).order_by(column.desc()).limit(limit)
        for query in (after, before):
            found.update(dict.fromkeys(session.execute(query).scalars()))
    return list(found)


def near_prompt_names(session: Session, name: str) -> list[str]:
    """Prompt names close to ``name`` (see :func:`near_names`)."""
    return near_names(session, PromptRow.name, name)


def create_prompt(
    session: Session,
    *,
    name: str,
    type: str,
    description: str,
    actor: str,
    at: datetime,
) -> PromptRow:
    """Insert a new prompt with no versions yet."""
    row = PromptRow(
        name=name,
        description=description,
        type=type,
        archived=False,
        latest_version=0,
        created_at=at,
        created_by=actor,
        updated_at=at,
        updated_by=actor,
    )
    session.add(row)
    session.flush()
    return row


def list_prompt_rows(
    session: Session,
    *,
    tag: str | None = None,
    search: str | None = None,
    folder: str | None = None,
    include_archived: bool = False,
    limit: int | None = 100,
    after: str | None = None,
) -> list[PromptRow]:
    """Prompts sorted by name, filtered; ``after`` is the last name of the previous page."""
    query = select(PromptRow).order_by(PromptRow.name)
    if not include_archived:
        query = query.where(PromptRow.archived.is_(False))
    if tag:
        query = query.where(PromptRow.id.in_(select(TagRow.prompt_id).where(TagRow.tag == tag)))
    if search:
        pattern = f"%{_escape_like(search.lower())}%"
        query = query.where(
            or_(
                func.lower(PromptRow.name).like(pattern, escape="\\"),
                func.lower(PromptRow.description).like(pattern, escape="\\"),
            )
        )
    if folder:
        prefix = folder.rstrip("/") + "/"
        query = query.where(PromptRow.name.like(_escape_like(prefix) + "%", escape="\\"))
    if after:
        query = query.where(PromptRow.name > after)
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def tags_by_prompt(session: Session, prompt_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """Sorted tags of each prompt id."""
    out: dict[int, list[str]] = {pid: [] for pid in prompt_ids}
    if prompt_ids:
        rows = session.execute(
            select(TagRow.prompt_id, TagRow.tag)
            .where(TagRow.prompt_id.in_(prompt_ids))
            .order_by(TagRow.tag)
        )
        for pid, tag in rows:
            out[pid].append(tag)
    return {pid: tuple(tags) for pid, tags in out.items()}


def add_tags(session: Session, prompt_id: int, tags: Iterable[str]) -> list[str]:
    """Add the tags the prompt does not have yet; return the ones added."""
    have = set(session.execute(select(TagRow.tag).where(TagRow.prompt_id == prompt_id)).scalars())
    added = sorted(set(tags) - have)
    for tag in added:
        session.add(TagRow(prompt_id=prompt_id, tag=tag))
    return added


def labels_by_prompt(session: Session, prompt_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """``{prompt_id: {label: version number}}`` for the given prompts."""
    out: dict[int, dict[str, int]] = {pid: {} for pid in prompt_ids}
    if prompt_ids:
        rows = session.execute(
            select(LabelRow.prompt_id, LabelRow.label, VersionRow.version)
            .join(VersionRow, VersionRow.id == LabelRow.version_id)
            .where(LabelRow.prompt_id.in_(prompt_ids))
            .order_by(LabelRow.label)
        )
        for pid, label, version in rows:
            out[pid][label] = version
    return out


def latest_hashes(session: Session, prompt_ids: Sequence[int]) -> dict[int, str]:
    """``{prompt_id: content hash of its latest version}`` (prompts with a version)."""
    if not prompt_ids:
        return {}
    rows = session.execute(
        select(VersionRow.prompt_id, VersionRow.hash)
        .join(
            PromptRow,
            (PromptRow.id == VersionRow.prompt_id)
            & (PromptRow.latest_version == VersionRow.version),
        )
        .where(VersionRow.prompt_id.in_(prompt_ids))
    )
    return {pid: digest for pid, digest in rows}


def prompt_summary(
    row: PromptRow,
    tags: tuple[str, ...],
    labels: dict[str, int],
    latest_hash: str | None = None,
) -> PromptSummary:
    """The listing entity of one prompt."""
    return PromptSummary(
        name=row.name,
        description=row.description,
        type="chat" if row.type == "chat" else "text",
        tags=tags,
        latest_version=row.latest_version or None,
        latest_hash=latest_hash,
        labels=labels,
        archived=row.archived,
        created_at=row.created_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def summaries(session: Session, rows: Sequence[PromptRow]) -> list[PromptSummary]:
    """Listing entities for ``rows`` (batched queries for tags, labels and hashes)."""
    ids = [row.id for row in rows]
    tags = tags_by_prompt(session, ids)
    labels = labels_by_prompt(session, ids)
    hashes = latest_hashes(session, ids)
    return [prompt_summary(row, tags[row.id], labels[row.id], hashes.get(row.id)) for row in rows]


# --- versions --------------------------------------------------------------------------


def version_row(session: Session, prompt_id: int, version: int) -> VersionRow | None:
    """The row of one version, or None."""
    return session.execute(
        select(VersionRow).where(VersionRow.prompt_id == prompt_id, VersionRow.version == version)
    ).scalar_one_or_none()


def version_numbers(session: Session, prompt_id: int) -> list[int]:
    """Every version number of a prompt, ascending."""
    return list(
        session.execute(
            select(VersionRow.version)
            .where(VersionRow.prompt_id == prompt_id)
            .order_by(VersionRow.version)
        ).scalars()
    )


def insert_version(session: Session, prompt_id: int, version: int, **fields: Any) -> int:
    """Insert a version row and return its id (``version`` assigned under the write lock)."""
    params = {"prompt_id": prompt_id, "version": version, **fields}
    return int(session.connection().execute(_INSERT_VERSION, params).scalar_one())


def to_version(
    name: str,
    row: VersionRow,
    labels: Iterable[str] = (),
    *,
    resolved_label: str | None = None,
) -> PromptVersion:
    """The entity of one version row."""
    return PromptVersion(
        name=name,
        version=row.version,
        type="chat" if row.type == "chat" else "text",
        syntax=as_syntax(row.syntax),
        # Clamped: a row stored before JSON bounds existed (or by hand) still reads.
        template=clamp_json(row.template),
        config=dict(clamp_json(row.config or {})),
        variables_schema=clamp_json(row.variables_schema),
        message=row.message,
        author=row.author,
        created_at=row.created_at,
        hash=row.hash,
        labels=tuple(sorted(labels)),
        resolved_label=resolved_label,
    )


def versions_page(
    session: Session, prompt_id: int, *, limit: int | None = None, before: int | None = None
) -> list[VersionRow]:
    """Versions newest first; ``before`` keeps only numbers below it (pagination)."""
    query = (
        select(VersionRow)
        .where(VersionRow.prompt_id == prompt_id)
        .order_by(VersionRow.version.desc())
    )
    if before is not None:
        query = query.where(VersionRow.version < before)
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


# --- labels ----------------------------------------------------------------------------


def labels_of(session: Session, prompt_id: int) -> dict[str, int]:
    """``{label: version number}`` of one prompt."""
    return labels_by_prompt(session, [prompt_id])[prompt_id]


def resolve_state(session: Session, name: str) -> tuple[PromptRow, dict[str, int]] | None:
    """A prompt row and its label pointers in one round trip (None if no such prompt)."""
    rows = session.execute(
        select(PromptRow, LabelRow.label, VersionRow.version)
        .outerjoin(LabelRow, LabelRow.prompt_id == PromptRow.id)
        .outerjoin(VersionRow, VersionRow.id == LabelRow.version_id)
        .where(PromptRow.name == name)
    ).all()
    if not rows:
        return None
    prompt = rows[0][0]
    return prompt, {label: version for _, label, version in rows if label is not None}


def set_label_row(
    session: Session, prompt_id: int, label: str, version_id: int, *, actor: str, at: datetime
) -> None:
    """Point ``label`` at ``version_id`` (update, else insert)."""
    updated = session.execute(
        update(LabelRow)
        .where(LabelRow.prompt_id == prompt_id, LabelRow.label == label)
        .values(version_id=version_id, updated_at=at, updated_by=actor)
    )
    if not updated.rowcount:  # type: ignore[attr-defined]
        session.execute(
            insert(LabelRow).values(
                prompt_id=prompt_id,
                label=label,
                version_id=version_id,
                updated_at=at,
                updated_by=actor,
            )
        )


def delete_label_row(session: Session, prompt_id: int, label: str) -> None:
    """Remove a label pointer."""
    session.execute(
        delete(LabelRow).where(LabelRow.prompt_id == prompt_id, LabelRow.label == label)
    )


def insert_label_event(
    session: Session,
    prompt_id: int,
    *,
    label: str,
    from_version: int | None,
    to_version: int,
    action: str,
    actor: str,
    at: datetime,
) -> int:
    """Record one label move; returns the event id (an empty actor: the default one)."""
    actor = actor or str(session.info.get(ACTOR_INFO_KEY) or "unknown")
    return int(
        session.execute(
            insert(LabelEventRow)
            .values(
                prompt_id=prompt_id,
                label=label,
                from_version=from_version,
                to_version=to_version,
                action=action,
                actor=actor,
                at=at,
            )
            .returning(LabelEventRow.id)
        ).scalar_one()
    )


def label_events(
    session: Session,
    prompt_id: int,
    label: str | None = None,
    *,
    oldest_first: bool = False,
    limit: int | None = None,
) -> list[LabelEventRow]:
    """Label moves of a prompt (one label or all), newest first unless asked otherwise."""
    order = LabelEventRow.id.asc() if oldest_first else LabelEventRow.id.desc()
    query = select(LabelEventRow).where(LabelEventRow.prompt_id == prompt_id).order_by(order)
    if label is not None:
        query = query.where(LabelEventRow.label == label)
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


def label_event(session: Session, event_id: int) -> LabelEventRow:
    """One label event row by id."""
    return session.execute(select(LabelEventRow).where(LabelEventRow.id == event_id)).scalar_one()


def to_label_event(name: str, row: LabelEventRow) -> LabelEvent:
    """The entity of one label move."""
    action = row.action if row.action in ("set", "rollback", "delete") else "set"
    return LabelEvent(
        id=row.id,
        name=name,
        label=row.label,
        from_version=row.from_version,
        to_version=row.to_version,
        actor=row.actor,
        action=action,
        at=row.at,
    )
