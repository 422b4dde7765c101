"""Webhook rows: the queries behind :mod:`promptvault.webhooks`.

Subscriptions and deliveries come back as dicts of their columns (rows stay in ``storage/``).
The dispatcher's lease is one row per name: whoever holds it unexpired may deliver.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from promptvault.storage.tables import WebhookDeliveryRow, WebhookLeaseRow, WebhookRow

__all__ = [
    "acquire_lease",
    "delete_webhook",
    "deliveries",
    "delivery",
    "enabled_webhooks",
    "insert_deliveries",
    "insert_delivery",
    "insert_webhook",
    "load_webhook",
    "prune_deliveries",
    "release_lease",
    "update_webhook",
    "update_webhooks",
    "webhooks",
]

_WEBHOOK_COLUMNS = list(WebhookRow.__table__.columns)
_DELIVERY_COLUMNS = list(WebhookDeliveryRow.__table__.columns)


def _webhook(row: Any) -> dict[str, Any]:
    return {c.name: row[i] for i, c in enumerate(_WEBHOOK_COLUMNS)}


def insert_webhook(session: Session, **fields: Any) -> dict[str, Any]:
    """Insert a subscription; returns its stored fields (with ``id``)."""
    result: Any = session.execute(insert(WebhookRow).values(**fields))  # a CursorResult
    return {**fields, "id": int(result.inserted_primary_key[0])}


def webhooks(session: Session) -> list[dict[str, Any]]:
    """Every subscription, oldest first."""
    rows = session.execute(select(*_WEBHOOK_COLUMNS).order_by(WebhookRow.id))
    return [_webhook(r) for r in rows]


def enabled_webhooks(session: Session) -> list[dict[str, Any]]:
    """The enabled subscriptions, oldest first."""
    query = select(*_WEBHOOK_COLUMNS).where(WebhookRow.enabled.is_(True)).order_by(WebhookRow.id)
    return [_webhook(r) for r in session.execute(query)]


def load_webhook(session: Session, uid: str) -> dict[str, Any] | None:
    """The subscription with public id ``uid``, or None."""
    row = session.execute(select(*_WEBHOOK_COLUMNS).where(WebhookRow.uid == uid)).first()
    return _webhook(row) if row is not None else None


def update_webhook(
    session: Session,
    webhook_id: int,
    *,
    cursor_was: int | None = None,
    enabled_only: bool = False,
    **fields: Any,
) -> bool:
    """Change a subscription's fields; with ``cursor_was``, only if its cursor still is that
    (so a late writer never moves a cursor back), with ``enabled_only`` only if it is
    enabled. Returns whether a row changed."""
    statement = update(WebhookRow).where(WebhookRow.id == webhook_id)
    if cursor_was is not None:
        statement = statement.where(WebhookRow.cursor == cursor_was)
    if enabled_only:
        statement = statement.where(WebhookRow.enabled.is_(True))
    result: Any = session.execute(statement.values(**fields))
    return int(result.rowcount) > 0


def update_webhooks(session: Session, changes: list[tuple[int, int, dict[str, Any]]]) -> None:
    """Many :func:`update_webhook` calls with ``cursor_was`` and ``enabled_only``, as
    ``(id, cursor_was, fields)``: one statement per set of changed fields, its rows sent
    together (one round trip), not one statement and round trip per subscription."""
    table: Any = WebhookRow.__table__
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for webhook_id, cursor_was, fields in changes:
        keys = tuple(sorted(fields))
        params = {"w_id": webhook_id, "w_cursor_was": cursor_was}
        params.update({f"v_{k}": v for k, v in fields.items()})
        groups.setdefault(keys, []).append(params)
    for keys, rows in groups.items():
        statement = (
            update(table)
            .where(
                table.c.id == bindparam("w_id"),
                table.c.cursor == bindparam("w_cursor_was"),
                table.c.enabled.is_(True),
            )
            .values({k: bindparam(f"v_{k}") for k in keys})
        )
        session.connection().execute(statement, rows)


def delete_webhook(session: Session, webhook_id: int) -> None:
    """Delete a subscription and its delivery log."""
    session.execute(delete(WebhookDeliveryRow).where(WebhookDeliveryRow.webhook_id == webhook_id))
    session.execute(delete(WebhookRow).where(WebhookRow.id == webhook_id))


def insert_delivery(session: Session, **fields: Any) -> int:
    """Log one delivery attempt; returns its id."""
    result: Any = session.execute(insert(WebhookDeliveryRow).values(**fields))
    return int(result.inserted_primary_key[0])


def insert_deliveries(session: Session, rows: list[dict[str, Any]]) -> None:
    """Log many delivery attempts in one statement (skipping those of subscriptions removed
    meanwhile: their log went with them)."""
    ids = {r["webhook_id"] for r in rows}
    if not ids:
        return
    present = set(session.execute(select(WebhookRow.id).where(WebhookRow.id.in_(ids))).scalars())
    kept = [r for r in rows if r["webhook_id"] in present]
    if kept:
        session.execute(insert(WebhookDeliveryRow), kept)


def prune_deliveries(session: Session, *, before: datetime) -> int:
    """Delete logged attempts older than ``before``; returns how many."""
    result: Any = session.execute(delete(WebhookDeliveryRow).where(WebhookDeliveryRow.at < before))
    return int(result.rowcount)


def deliveries(
    session: Session, webhook_id: int, *, limit: int, before: int | None = None
) -> list[dict[str, Any]]:
    """A subscription's delivery attempts, newest first; ``before`` pages on."""
    query = (
        select(*_DELIVERY_COLUMNS)
        .where(WebhookDeliveryRow.webhook_id == webhook_id)
        .order_by(WebhookDeliveryRow.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(WebhookDeliveryRow.id < before)
    return [{c.name: r[i] for i, c in enumerate(_DELIVERY_COLUMNS)} for r in session.execute(query)]


def delivery(session: Session, delivery_id: int) -> dict[str, Any] | None:
    """One logged attempt, or None."""
    row = session.execute(
        select(*_DELIVERY_COLUMNS).where(WebhookDeliveryRow.id == delivery_id)
    ).first()
    return {c.name: row[i] for i, c in enumerate(_DELIVERY_COLUMNS)} if row else None


def acquire_lease(
    session: Session, name: str, *, holder: str, now: datetime, until: datetime
) -> bool:
    """Take or renew lease ``name`` for ``holder`` until ``until``, if it is free, expired or
    already ``holder``'s. Returns whether ``holder`` has it now."""
    statement = (
        update(WebhookLeaseRow)
        .where(WebhookLeaseRow.name == name)
        .where((WebhookLeaseRow.holder == holder) | (WebhookLeaseRow.expires_at <= now))
        .values(holder=holder, expires_at=until)
    )
    result: Any = session.execute(statement)
    if int(result.rowcount) > 0:
        return True
    exists = session.execute(select(WebhookLeaseRow.name).where(WebhookLeaseRow.name == name))
    if exists.first() is not None:
        return False
    # The first dispatcher ever: a racing one fails the primary key and retries the update.
    session.execute(insert(WebhookLeaseRow).values(name=name, holder=holder, expires_at=until))
    return True


def release_lease(session: Session, name: str, *, holder: str, now: datetime) -> None:
    """Give the lease up at once (a clean shutdown), if ``holder`` has it."""
    session.execute(
        update(WebhookLeaseRow)
        .where(WebhookLeaseRow.name == name, WebhookLeaseRow.holder == holder)
        .values(expires_at=now)
    )
