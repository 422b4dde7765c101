"""Webhook subscriptions: create (secret shown once), list, enable/disable, remove, the
delivery log, a test message and manual redelivery. Admin work, every change audited.

Deliveries themselves are the dispatcher's (:mod:`promptvault.webhooks.dispatcher`); the
one-off sends here (``test``, ``redeliver``) go through the same :meth:`WebhookService.send`
so they are signed, address-checked and logged the same way.
"""

from __future__ import annotations

import builtins
import re
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from promptvault.config import Settings
from promptvault.entities import Webhook, WebhookDelivery
from promptvault.errors import InvalidInputError, WebhookNotFound, did_you_mean, suggest
from promptvault.storage.change_events import EVENT_TYPES
from promptvault.storage.database import Database
from promptvault.storage.unit_of_work import UnitOfWork, utcnow
from promptvault.webhooks import formats, signing
from promptvault.webhooks.addresses import AddressPolicy, parse_url
from promptvault.webhooks.feed import ChangeEvent, ChangeFeed
from promptvault.webhooks.secrets import reveal, seal
from promptvault.webhooks.transport import Connections, Response

__all__ = ["FORMATS", "TEST_EVENT", "WebhookService", "message_id"]

FORMATS = ("standard", "slack")
TEST_EVENT = "webhook.test"
_TYPE = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)*(\.\*)?")
_MAX_TYPES = 50
_UID_PREFIX = "wh_"


def message_id(uid: str, event_id: int) -> str:
    """The ``webhook-id`` of event ``event_id`` sent to subscription ``uid``: the same on
    every attempt (retries, redeliveries), so a receiver can deduplicate by it."""
    return f"msg_{uid.removeprefix(_UID_PREFIX)}_{event_id}"


def to_entity(fields: dict[str, Any]) -> Webhook:
    return Webhook(
        id=fields["uid"],
        url=fields["url"],
        event_types=list(fields["event_types"] or []),
        prompt_prefix=fields["prompt_prefix"],
        format=fields["format"],
        description=fields["description"],
        enabled=bool(fields["enabled"]),
        disabled_reason=fields["disabled_reason"],
        created_at=fields["created_at"],
        created_by=fields["created_by"],
        cursor=int(fields["cursor"]),
        consecutive_failures=int(fields["consecutive_failures"]),
        next_attempt_at=fields["next_attempt_at"],
    )


def _delivery(fields: dict[str, Any], uid: str) -> WebhookDelivery:
    return WebhookDelivery(**{**fields, "webhook_id": uid})


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInputError(
            f"{field} must be text of at most {limit} characters", details={"field": field}
        )
    return value.strip()


def _types(event_types: Sequence[str] | None, fmt: str) -> list[str]:
    if event_types is None or list(event_types) in ([], ["*"]):
        return list(formats.SLACK_DEFAULT_TYPES) if fmt == "slack" and not event_types else []
    if isinstance(event_types, str) or len(event_types) > _MAX_TYPES:
        raise InvalidInputError(
            f"event_types is a list of at most {_MAX_TYPES} types",
            details={"field": "event_types"},
        )
    out: list[str] = []
    for i, kind in enumerate(event_types):
        if not isinstance(kind, str) or len(kind) > 100 or not _TYPE.fullmatch(kind):
            raise InvalidInputError(
                f"event type {kind!r} must look like label.moved or label.*",
                details={"field": "event_types", "index": i, "value": str(kind)[:100]},
            )
        known = EVENT_TYPES if not kind.endswith(".*") else [
            t for t in EVENT_TYPES if t.startswith(kind[:-1])
        ]  # fmt: skip
        if kind not in EVENT_TYPES and not (kind.endswith(".*") and known):
            near = suggest(kind, EVENT_TYPES)
            raise InvalidInputError(
                f"no event type {kind!r}{did_you_mean(near)} (see docs/events.md)",
                details={"field": "event_types", "index": i, "value": kind, "suggestions": near},
            )
        if kind not in out:
            out.append(kind)
    return out


class WebhookService:
    """Webhook subscriptions of one database."""

    def __init__(self, db: Database, settings: Settings, feed: ChangeFeed) -> None:
        self.db = db
        self.settings = settings
        self.feed = feed
        self.policy = AddressPolicy(settings.webhook_allow_networks)
        self.connections = Connections()

    def close(self) -> None:
        """Close the connections kept open to endpoints."""
        self.connections.close()

    # --- subscriptions -------------------------------------------------------------------

    def create(
        self,
        url: str,
        *,
        event_types: Sequence[str] | None = None,
        prompt_prefix: str | None = None,
        format: str = "standard",
        description: str = "",
        actor: str = "",
    ) -> tuple[str, Webhook]:
        """Subscribe ``url``; returns ``(secret, webhook)``. The secret is not shown again.

        The endpoint receives the events committed after this call, in order.
        """
        if format not in FORMATS:
            raise InvalidInputError(
                f"format must be one of {', '.join(FORMATS)}", details={"field": "format"}
            )
        target = self.policy.check(url)
        types = _types(event_types, format)
        prefix = _text(prompt_prefix, "prompt_prefix", 200) or None if prompt_prefix else None
        who = actor or self.db.default_actor
        fields: dict[str, Any] = {
            "uid": _UID_PREFIX + secrets.token_hex(6),
            "url": target.url,
            "event_types": types,
            "prompt_prefix": prefix,
            "format": format,
            "description": _text(description, "description", 500),
            "secret": signing.generate_secret(),  # sealed below, returned in clear once
            "enabled": True,
            "disabled_reason": None,
            "created_at": utcnow(),
            "created_by": who,
            "cursor": 0,
            "attempt": 0,
            "consecutive_failures": 0,
            "next_attempt_at": None,
        }

        # Start at the newest committed event: what commits later is sent, nothing older.
        fields["cursor"] = self.feed.last_id()
        secret = str(fields["secret"])
        fields["secret"] = seal(self.settings, secret)

        def change(work: UnitOfWork) -> dict[str, Any]:
            stored = work.webhooks.insert(**fields)
            work.audit(
                actor=who,
                action="webhook.create",
                target=f"webhook:{fields['uid']}",
                details={
                    "url": target.url,
                    "event_types": types,
                    "prompt_prefix": prefix,
                    "format": format,
                },
            )
            return stored

        stored = self.db.write_work(change)
        return secret, to_entity(stored)

    def list(self) -> list[Webhook]:
        """Every subscription, oldest first (secrets are never shown)."""
        with self.db.read_work() as work:
            return [to_entity(f) for f in work.webhooks.all()]

    def _load(self, work: UnitOfWork, uid: str) -> dict[str, Any]:
        found = work.webhooks.load(uid) if isinstance(uid, str) else None
        if found is None:
            raise WebhookNotFound(f"no webhook {uid!r}", details={"field": "id", "id": uid})
        return found

    def get(self, uid: str) -> Webhook:
        """One subscription."""
        with self.db.read_work() as work:
            return to_entity(self._load(work, uid))

    def set_enabled(
        self, uid: str, enabled: bool, *, actor: str = "", reason: str | None = None
    ) -> Webhook:
        """Enable or disable a subscription. Enabling starts over at the event it stopped
        at (nothing is skipped) with a clean failure count."""
        who = actor or self.db.default_actor

        def change(work: UnitOfWork) -> Webhook:
            found = self._load(work, uid)
            changes: dict[str, Any] = {"enabled": enabled}
            if enabled:
                changes.update(
                    disabled_reason=None, attempt=0, consecutive_failures=0, next_attempt_at=None
                )
            else:
                changes["disabled_reason"] = reason or f"disabled by {who}"
            if bool(found["enabled"]) != enabled:
                work.webhooks.update(found["id"], **changes)
                work.audit(
                    actor=who,
                    action="webhook.enable" if enabled else "webhook.disable",
                    target=f"webhook:{uid}",
                    details={"reason": changes.get("disabled_reason")},
                )
                found = {**found, **changes}
            return to_entity(found)

        return self.db.write_work(change)

    def remove(self, uid: str, *, actor: str = "") -> Webhook:
        """Delete a subscription and its delivery log."""
        who = actor or self.db.default_actor

        def change(work: UnitOfWork) -> Webhook:
            found = self._load(work, uid)
            work.webhooks.delete(found["id"])
            work.audit(
                actor=who,
                action="webhook.remove",
                target=f"webhook:{uid}",
                details={"url": found["url"]},
            )
            return to_entity(found)

        return self.db.write_work(change)

    # --- the delivery log ----------------------------------------------------------------

    def deliveries(
        self, uid: str, *, limit: int = 50, before: int | None = None
    ) -> builtins.list[WebhookDelivery]:
        """A subscription's delivery attempts, newest first."""
        with self.db.read_work() as work:
            found = self._load(work, uid)
            rows = work.webhooks.deliveries(found["id"], limit=max(1, limit), before=before)
        return [_delivery(r, uid) for r in rows]

    # --- sending -------------------------------------------------------------------------

    def send(
        self, fields: dict[str, Any], event: ChangeEvent, *, msg_id: str | None = None
    ) -> tuple[str, Response]:
        """Sign and POST one event to one subscription: ``(message id, response)``.

        The URL's host is resolved and checked here, at every send, and the connection
        goes to the checked address. Never raises for an unreachable or refused endpoint:
        the refusal is the response's error.
        """
        msg_id = msg_id or message_id(fields["uid"], event.id)
        payload = formats.body(event, fields["format"])
        started = time.perf_counter()
        try:
            target = parse_url(fields["url"])
            address = self.policy.resolve(target)
            secret = reveal(self.settings, fields["secret"])
        except InvalidInputError as exc:
            return msg_id, Response(None, (time.perf_counter() - started) * 1000, exc.message)
        now = int(time.time())
        headers = signing.headers(secret, msg_id, now, payload)
        return msg_id, self.connections.post(
            target, address, payload, headers, timeout=self.settings.webhook_timeout
        )

    @staticmethod
    def log_entry(
        fields: dict[str, Any],
        event: ChangeEvent,
        msg_id: str,
        response: Response,
        *,
        attempt: int,
        trigger: str,
    ) -> dict[str, Any]:
        """The delivery-log row of one attempt."""
        return {
            "webhook_id": fields["id"],
            "event_id": event.id if trigger != "test" else None,
            "message_id": msg_id,
            "event_type": event.type,
            "attempt": attempt,
            "trigger": trigger,
            "at": utcnow(),
            "ok": response.ok,
            "status_code": response.status_code,
            "duration_ms": round(response.duration_ms, 3),
            "error": str(response.error)[:500] if response.error else None,
        }

    def _send_now(
        self, uid: str, event: ChangeEvent, *, actor: str, trigger: str, msg_id: str | None = None
    ) -> WebhookDelivery:
        with self.db.read_work() as work:
            fields = self._load(work, uid)
        msg_id, response = self.send(fields, event, msg_id=msg_id)
        who = actor or self.db.default_actor

        def change(work: UnitOfWork) -> dict[str, Any]:
            current = self._load(work, uid)
            record = self.log_entry(current, event, msg_id, response, attempt=1, trigger=trigger)
            record["id"] = work.webhooks.insert_delivery(**record)
            work.audit(
                actor=who,
                action=f"webhook.{trigger}",
                target=f"webhook:{uid}",
                details={"event_id": record["event_id"], "ok": response.ok},
            )
            return record

        return _delivery(self.db.write_work(change), uid)

    def test(self, uid: str, *, actor: str = "") -> WebhookDelivery:
        """Send a ``webhook.test`` message now and log it (whether or not it is enabled)."""
        who = actor or self.db.default_actor
        event = ChangeEvent(
            id=0,
            type=TEST_EVENT,
            at=datetime.now(UTC),
            actor=who,
            prompt=None,
            payload={"message": "a test message from promptvault"},
        )
        # Each test message has its own id: receivers must not drop a second as a duplicate.
        msg_id = f"msg_{uid.removeprefix(_UID_PREFIX)}_test_{secrets.token_hex(4)}"
        return self._send_now(uid, event, actor=who, trigger="test", msg_id=msg_id)

    def redeliver(self, uid: str, delivery_id: int, *, actor: str = "") -> WebhookDelivery:
        """Send the event of a logged delivery again now (same ``webhook-id``)."""
        with self.db.read_work() as work:
            fields = self._load(work, uid)
            logged = work.webhooks.delivery(delivery_id)
        if logged is None or logged["webhook_id"] != fields["id"] or logged["event_id"] is None:
            raise WebhookNotFound(
                f"webhook {uid!r} has no redeliverable delivery {delivery_id}",
                details={"field": "delivery_id", "id": uid, "delivery_id": delivery_id},
            )
        event = self.feed.get(int(logged["event_id"]))
        if event is None:
            raise WebhookNotFound(
                f"event {logged['event_id']} is no longer in the change feed",
                details={"field": "delivery_id", "event_id": logged["event_id"]},
            )
        return self._send_now(uid, event, actor=actor, trigger="redeliver")
