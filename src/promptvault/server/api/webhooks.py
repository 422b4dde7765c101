"""Webhook subscriptions (admin only): create (the secret is in that answer only), list,
get, enable, disable, remove, send a test message, the delivery log, redeliver.

Delivery itself is the dispatcher's, in the background (``promptvault.webhooks``); the
test and redeliver routes send at once and answer with the logged attempt.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from promptvault.entities import Webhook, WebhookDelivery, WebhookFormat
from promptvault.server.api._body import RequestBody
from promptvault.server.api._models import Page
from promptvault.server.auth import Admin
from promptvault.server.deps import VaultDep
from promptvault.server.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=ERROR_RESPONSES)


class CreateWebhookBody(RequestBody):
    """A new subscription. ``event_types`` empty: every type (``label.*`` matches a
    family); a ``slack`` subscription naming none gets label moves and experiment
    decisions."""

    url: str = Field(min_length=1, max_length=2048)
    event_types: list[str] | None = Field(default=None, max_length=50)
    prompt_prefix: str | None = Field(default=None, max_length=200)
    format: WebhookFormat = "standard"
    description: str = Field(default="", max_length=500)


class CreatedWebhook(BaseModel):
    """A subscription just created: ``secret`` signs its deliveries and is shown only now."""

    secret: str
    webhook: Webhook


@router.get("", response_model=Page[Webhook])
def list_webhooks(vault: VaultDep, _key: Admin) -> Page[Webhook]:
    """Every subscription, oldest first (secrets are never shown)."""
    return Page(items=vault.webhooks.list())


@router.post("", response_model=CreatedWebhook, status_code=201)
def create_webhook(body: CreateWebhookBody, vault: VaultDep, key: Admin) -> CreatedWebhook:
    """Subscribe a URL to change events; store the returned ``secret`` now."""
    secret, webhook = vault.webhooks.create(
        body.url,
        event_types=body.event_types,
        prompt_prefix=body.prompt_prefix,
        format=body.format,
        description=body.description,
        actor=key.name,
    )
    return CreatedWebhook(secret=secret, webhook=webhook)


@router.get("/{webhook_id}", response_model=Webhook)
def get_webhook(webhook_id: str, vault: VaultDep, _key: Admin) -> Webhook:
    """One subscription, with where its delivery stands (cursor, failures, next attempt)."""
    return vault.webhooks.get(webhook_id)


@router.delete("/{webhook_id}", response_model=Webhook)
def remove_webhook(webhook_id: str, vault: VaultDep, key: Admin) -> Webhook:
    """Delete a subscription and its delivery log."""
    return vault.webhooks.remove(webhook_id, actor=key.name)


@router.post("/{webhook_id}/disable", response_model=Webhook)
def disable_webhook(webhook_id: str, vault: VaultDep, key: Admin) -> Webhook:
    """Stop delivering (events keep accumulating; enabling resumes where it stopped)."""
    return vault.webhooks.set_enabled(webhook_id, False, actor=key.name)


@router.post("/{webhook_id}/enable", response_model=Webhook)
def enable_webhook(webhook_id: str, vault: VaultDep, key: Admin) -> Webhook:
    """Deliver again, from the event it stopped at, with a clean failure count."""
    return vault.webhooks.set_enabled(webhook_id, True, actor=key.name)


@router.post("/{webhook_id}/test", response_model=WebhookDelivery)
def test_webhook(webhook_id: str, vault: VaultDep, key: Admin) -> WebhookDelivery:
    """Send a ``webhook.test`` message now; answers with the logged attempt."""
    return vault.webhooks.test(webhook_id, actor=key.name)


@router.get("/{webhook_id}/deliveries", response_model=Page[WebhookDelivery])
def list_deliveries(
    webhook_id: str,
    vault: VaultDep,
    _key: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Page[WebhookDelivery]:
    """Delivery attempts newest first; pass ``next_cursor`` as ``before`` for older ones."""
    items = vault.webhooks.deliveries(webhook_id, limit=limit, before=before)
    cursor = str(items[-1].id) if len(items) == limit else None
    return Page(items=items, next_cursor=cursor)


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=WebhookDelivery)
def redeliver(webhook_id: str, delivery_id: int, vault: VaultDep, key: Admin) -> WebhookDelivery:
    """Send a logged delivery's event again now, with the same ``webhook-id``."""
    return vault.webhooks.redeliver(webhook_id, delivery_id, actor=key.name)
