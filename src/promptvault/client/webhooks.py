"""Webhook subscriptions through the server (``/v1/webhooks``, admin keys only).

The same methods as the library's ``vault.webhooks``, so the CLI drives either one; who
acts is the API key's name, so ``actor`` arguments are accepted and ignored.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import quote

from promptvault.client._api import Call
from promptvault.entities import Webhook, WebhookDelivery

__all__ = ["ClientWebhooks"]


class _Caller(Protocol):
    def _call(self, call: Call[Any]) -> Any: ...


def _path(webhook_id: str, *suffix: str) -> str:
    return "/".join(["/v1/webhooks", quote(webhook_id, safe=""), *suffix])


def _page(parse: Any) -> Any:
    return lambda data: [parse(item) for item in data["items"]]


class ClientWebhooks:
    """Webhook management over HTTP."""

    def __init__(self, client: _Caller) -> None:
        self._client = client

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
        """Subscribe ``url``: ``(secret, webhook)``; the secret is not shown again."""
        body = {
            "url": url,
            "event_types": list(event_types) if event_types is not None else None,
            "prompt_prefix": prompt_prefix,
            "format": format,
            "description": description,
        }
        created = self._client._call(
            Call("POST", "/v1/webhooks", lambda d: d, json=body, idempotent=False)
        )
        return str(created["secret"]), Webhook.model_validate(created["webhook"])

    def list(self) -> builtins.list[Webhook]:
        """Every subscription."""
        result: builtins.list[Webhook] = self._client._call(
            Call("GET", "/v1/webhooks", _page(Webhook.model_validate))
        )
        return result

    def get(self, webhook_id: str) -> Webhook:
        """One subscription."""
        result: Webhook = self._client._call(Call("GET", _path(webhook_id), Webhook.model_validate))
        return result

    def set_enabled(self, webhook_id: str, enabled: bool, *, actor: str = "") -> Webhook:
        """Enable or disable delivery."""
        verb = "enable" if enabled else "disable"
        result: Webhook = self._client._call(
            Call("POST", _path(webhook_id, verb), Webhook.model_validate)
        )
        return result

    def remove(self, webhook_id: str, *, actor: str = "") -> Webhook:
        """Delete a subscription and its delivery log."""
        result: Webhook = self._client._call(
            Call("DELETE", _path(webhook_id), Webhook.model_validate)
        )
        return result

    def deliveries(
        self, webhook_id: str, *, limit: int = 50, before: int | None = None
    ) -> builtins.list[WebhookDelivery]:
        """Delivery attempts, newest first."""
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        result: builtins.list[WebhookDelivery] = self._client._call(
            Call(
                "GET",
                _path(webhook_id, "deliveries"),
                _page(WebhookDelivery.model_validate),
                params=params,
            )
        )
        return result

    def test(self, webhook_id: str, *, actor: str = "") -> WebhookDelivery:
        """Send a test message now."""
        result: WebhookDelivery = self._client._call(
            Call(
                "POST", _path(webhook_id, "test"), WebhookDelivery.model_validate, idempotent=False
            )
        )
        return result

    def redeliver(self, webhook_id: str, delivery_id: int, *, actor: str = "") -> WebhookDelivery:
        """Send a logged delivery's event again now."""
        path = _path(webhook_id, "deliveries", str(int(delivery_id)), "redeliver")
        result: WebhookDelivery = self._client._call(
            Call("POST", path, WebhookDelivery.model_validate, idempotent=False)
        )
        return result
