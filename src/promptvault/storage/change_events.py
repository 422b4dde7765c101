"""The change-event outbox: one event per change, appended beside its audit entry.

:func:`promptvault.storage.audit.append` is the one place every change is audited; it calls
:func:`record` in the same transaction, which maps the audit action to a change-event type
(``prompt.push`` -> ``version.pushed``, ``label.set`` -> ``label.moved``, ...) and appends
it. So a change is never committed without its event and an event never without its change.
Actions that change nothing an application serves (key management, audit anchors, failed
sign-ins) have no event.

Ids are handed out under the serial write lock the audit append holds until commit, so they
are committed in id order: a reader paging on with ``id > last seen`` misses nothing. On
PostgreSQL the append also sends ``NOTIFY promptvault_changes`` (delivered on commit) to wake
the servers' stream broadcasters; the table stays the source of truth. Within the writing
process, :meth:`promptvault.storage.database.Database.on_events_committed` hears of the
commit at once, on SQLite too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from promptvault.entities import ChangeEvent, ChangePage
from promptvault.storage.tables import ChangeEventRow, ExperimentRow, PromptRow

__all__ = [
    "APPENDED_INFO_KEY",
    "CHANNEL",
    "EVENT_TYPES",
    "ChangeRepository",
    "changes",
    "event_for",
    "last_id",
    "page",
    "record",
]

# The PostgreSQL NOTIFY channel; the payload is the new event's id.
CHANNEL = "promptvault_changes"
# Set in the writing connection's ``info`` once its transaction appended an event, so the
# database tells this process's listeners when it commits (``Database.on_events_committed``).
APPENDED_INFO_KEY = "promptvault_event_appended"

# Audit action -> change-event type.
_PROMPT_ACTIONS = {
    "prompt.push": "version.pushed",
    "label.set": "label.moved",
    "label.rollback": "label.moved",
    "label.delete": "label.removed",
    "prompt.archive": "prompt.archived",
    "prompt.unarchive": "prompt.unarchived",
    "prompt.update": "prompt.updated",
}
_EXPERIMENT_ACTIONS = {
    "experiment.start": "experiment.started",
    "experiment.ramp": "experiment.ramped",
    "experiment.stop": "experiment.stopped",
    "experiment.auto_stop": "experiment.auto_stopped",
    "experiment.conclude": "experiment.concluded",
}

EVENT_TYPES: tuple[str, ...] = (
    *dict.fromkeys(_PROMPT_ACTIONS.values()),
    *_EXPERIMENT_ACTIONS.values(),
    "collection.changed",
    "registry.imported",
)

_INSERT = insert(ChangeEventRow).returning(ChangeEventRow.id)
_LAST = select(func.max(ChangeEventRow.id))
_EXPERIMENT = (
    select(PromptRow.name, ExperimentRow.label)
    .join(PromptRow, PromptRow.id == ExperimentRow.prompt_id)
    .where(ExperimentRow.name == bindparam("name"))
)


def _prompt_payload(kind: str, name: str, details: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "version.pushed":
        return {
            "prompt": name,
            "version": details.get("version"),
            "hash": details.get("hash"),
            "message": details.get("message", ""),
        }
    if kind in ("label.moved", "label.removed"):
        payload: dict[str, Any] = {
            "prompt": name,
            "label": details.get("label"),
            "old_version": details.get("from_version"),
        }
        if kind == "label.moved":
            payload["new_version"] = details.get("to_version")
        if details.get("cause"):
            payload["cause"] = details["cause"]
        return payload
    if kind == "prompt.updated":
        return {
            "prompt": name,
            "tags_added": details.get("tags_added", []),
            "description": bool(details.get("description")),
        }
    return {"prompt": name}


def _experiment_payload(
    kind: str, name: str, prompt: str | None, label: str | None, details: Mapping[str, Any]
) -> dict[str, Any]:
    payload: dict[str, Any] = {"experiment": name, "prompt": prompt, "label": label}
    if kind == "experiment.started":
        payload["version"] = details.get("label_version")
    elif kind == "experiment.ramped":
        payload["weights"] = details.get("to", {})
    elif kind == "experiment.stopped":
        payload["reason"] = details.get("reason", "")
    elif kind == "experiment.auto_stopped":
        payload["reason"] = "; ".join(str(r) for r in details.get("reasons", []))
        if details.get("restored"):
            payload["restored"] = details["restored"]
    elif kind == "experiment.concluded":
        payload["winner"] = details.get("winner")
        payload["version"] = details.get("version")
    return payload


def event_for(
    conn: Connection, *, action: str, target: str, details: Mapping[str, Any]
) -> tuple[str, str | None, dict[str, Any]] | None:
    """``(type, prompt, payload)`` of the event an audited change makes, or None."""
    scope, _, name = target.partition(":")
    if scope == "prompt" and action in _PROMPT_ACTIONS:
        kind = _PROMPT_ACTIONS[action]
        payload = _prompt_payload(kind, name, details)
        if action == "label.rollback":
            payload["rollback"] = True
        return kind, name, payload
    if scope == "experiment" and action in _EXPERIMENT_ACTIONS:
        kind = _EXPERIMENT_ACTIONS[action]
        # The audit entry names the experiment; streams filter by prompt, so look it up.
        row = conn.execute(_EXPERIMENT, {"name": name}).first()
        prompt, label = (str(row[0]), str(row[1])) if row is not None else (None, None)
        return kind, prompt, _experiment_payload(kind, name, prompt, label, details)
    if scope == "collection" and action.startswith(("collection.", "example.")):
        return "collection.changed", None, {"collection": name, "action": action}
    if action == "registry.import":
        return "registry.imported", None, {"prompts": list(details.get("prompts", []))}
    return None


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, Any],
    at: datetime,
) -> int | None:
    """Append the event of one audited change in ``conn``'s transaction; its id, or None
    when the action has no event. Call it with the serial write lock held (the audit
    append does)."""
    found = event_for(conn, action=action, target=target, details=details)
    if found is None:
        return None
    kind, prompt, payload = found
    event_id = int(
        conn.execute(
            _INSERT,
            {"type": kind, "at": at, "actor": actor, "prompt": prompt, "payload": payload},
        ).scalar_one()
    )
    conn.info[APPENDED_INFO_KEY] = True
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_notify(:channel, :id)"), {"channel": CHANNEL, "id": str(event_id)}
        )
    return event_id


def changes(
    conn: Connection,
    *,
    after: int = 0,
    limit: int = 100,
    prefix: str | None = None,
    through: int | None = None,
) -> list[ChangeEvent]:
    """Events with ``after < id <= through``, oldest first, at most ``limit``; with
    ``prefix`` only those of prompts whose name starts with it."""
    query = (
        select(ChangeEventRow)
        .where(ChangeEventRow.id > after)
        .order_by(ChangeEventRow.id)
        .limit(limit)
    )
    if through is not None:
        query = query.where(ChangeEventRow.id <= through)
    if prefix:
        query = query.where(ChangeEventRow.prompt.startswith(prefix, autoescape=True))
    return [
        ChangeEvent(
            id=r.id,
            type=r.type,
            at=r.at,
            actor=r.actor,
            prompt=r.prompt,
            payload=dict(r.payload or {}),
        )
        for r in conn.execute(query).all()
    ]


def page(conn: Connection, *, after: int, limit: int, prefix: str | None = None) -> ChangePage:
    """One page and its cursor. The newest id is read first and bounds the page: every
    event up to it is committed (ids commit in order), so the cursor skips nothing."""
    newest = last_id(conn)
    items = changes(conn, after=after, limit=limit, prefix=prefix, through=newest)
    cursor = items[-1].id if len(items) == limit else max(after, newest)
    return ChangePage(items=items, cursor=cursor, last_id=newest)


def last_id(conn: Connection) -> int:
    """The newest event's id (0 when there is none)."""
    return int(conn.execute(_LAST).scalar() or 0)


class ChangeRepository:
    """The outbox as a unit of work reads it (``work.changes``): events, pages, the newest id.

    Appending is the audit append's (:func:`record`), in the change's own transaction.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def changes(
        self, *, after: int = 0, limit: int = 100, prefix: str | None = None
    ) -> list[ChangeEvent]:
        """Events with an id above ``after``, oldest first (see :func:`changes`)."""
        return changes(self._session.connection(), after=after, limit=limit, prefix=prefix)

    def page(self, *, after: int, limit: int, prefix: str | None = None) -> ChangePage:
        """One page and its cursor (see :func:`page`)."""
        return page(self._session.connection(), after=after, limit=limit, prefix=prefix)

    def last_id(self) -> int:
        """The newest event's id (0 when there is none)."""
        return last_id(self._session.connection())
