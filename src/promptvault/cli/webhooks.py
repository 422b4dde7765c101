"""``promptvault webhooks``: subscribe URLs to change events, watch and repair delivery.

Works on the local database (``vault.webhooks``) or, in remote mode, through the server
(admin key). Delivery itself runs in ``promptvault serve``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output

if TYPE_CHECKING:
    from promptvault.entities import Webhook, WebhookDelivery

__all__ = ["webhooks_app"]

webhooks_app = typer.Typer(
    help="Webhooks: signed HTTP deliveries of change events (admin).", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
IdArgument = Annotated[str, typer.Argument(help="Webhook id (wh_...).", metavar="ID")]


def _service() -> Any:
    backend = ctx.backend()
    if ctx.is_remote():
        from promptvault.client.webhooks import ClientWebhooks

        return ClientWebhooks(backend.client)
    return backend.webhooks


def _state(hook: Webhook) -> str:
    if hook.enabled:
        return "failing" if hook.consecutive_failures else "enabled"
    return "disabled"


def _show(hook: Webhook, json_: bool) -> None:
    if ctx.want_json(json_):
        output.print_json(hook.model_dump(mode="json"))
        return
    reason = f" ({hook.disabled_reason})" if hook.disabled_reason else ""
    output.note(f"webhook {hook.id} {hook.url}: {_state(hook)}{reason}")


def _row(h: Webhook) -> list[str]:
    events = ",".join(h.event_types) or "all"
    return [h.id, h.url, events, h.prompt_prefix or "-", h.format, _state(h)]


def _delivery_row(d: WebhookDelivery) -> list[str]:
    return [
        str(d.id),
        output.format_time(d.at),
        d.event_type,
        str(d.event_id or "-"),
        str(d.attempt),
        d.trigger,
        str(d.status_code or "-"),
        f"{d.duration_ms:.0f} ms" if d.duration_ms is not None else "-",
        (d.error or "")[:60],
    ]


def _show_delivery(d: WebhookDelivery, json_: bool) -> None:
    if ctx.want_json(json_):
        output.print_json(d.model_dump(mode="json"))
        return
    outcome = "delivered" if d.ok else f"failed: {d.error}"
    output.note(f"{d.event_type} -> {d.status_code or 'no answer'} ({outcome})")
    if not d.ok:
        raise typer.Exit(1)


@webhooks_app.command("add")
def add(  # noqa: PLR0917 - Typer passes every option positionally
    url: Annotated[str, typer.Argument(help="http(s) URL to POST events to.")],
    events: Annotated[
        list[str] | None,
        typer.Option(
            "--event", "-e", help="Event type (repeat; label.* for a family). Default: all."
        ),
    ] = None,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="Only prompts whose name starts with this.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="standard (signed JSON) or slack (a Slack message).")
    ] = "standard",
    description: Annotated[str, typer.Option("--description", help="What it is for.")] = "",
    json_: JsonOption = False,
) -> None:
    """Subscribe a URL and print its signing secret once.

    \b
    Examples:
      promptvault webhooks add https://ci.example.com/hooks/promptvault -e label.moved
      promptvault webhooks add https://hooks.slack.com/services/T/B/X --format slack
    """
    secret, hook = _service().create(
        url,
        event_types=events or None,
        prompt_prefix=prefix,
        format=fmt,
        description=description,
        actor=ctx.actor(),
    )
    if ctx.want_json(json_):
        output.print_json({"secret": secret, "webhook": hook.model_dump(mode="json")})
        return
    typer.echo(secret)
    output.note(
        f"webhook {hook.id} created for {hook.url}; store the secret now, it is not shown again"
    )


@webhooks_app.command("list")
def list_(json_: JsonOption = False) -> None:
    """Subscriptions with their filters and delivery state."""
    hooks = _service().list()
    if ctx.want_json(json_):
        output.print_json([h.model_dump(mode="json") for h in hooks])
        return
    output.table(
        ["id", "url", "events", "prefix", "format", "state"],
        [_row(h) for h in hooks],
        empty="no webhooks",
    )


@webhooks_app.command("test")
def test(webhook_id: IdArgument, json_: JsonOption = False) -> None:
    """Send a webhook.test message now (exit status 1 when it fails)."""
    _show_delivery(_service().test(webhook_id, actor=ctx.actor()), json_)


@webhooks_app.command("deliveries")
def deliveries(
    webhook_id: IdArgument,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=500)] = 20,
    json_: JsonOption = False,
) -> None:
    """Delivery attempts, newest first: status, response time, error."""
    found = _service().deliveries(webhook_id, limit=limit)
    if ctx.want_json(json_):
        output.print_json([d.model_dump(mode="json") for d in found])
        return
    output.table(
        ["delivery", "at", "type", "event", "attempt", "by", "status", "time", "error"],
        [_delivery_row(d) for d in found],
        empty="no deliveries yet",
    )


@webhooks_app.command("redeliver")
def redeliver(
    webhook_id: IdArgument,
    delivery_id: Annotated[int, typer.Argument(help="A delivery id from `deliveries`.")],
    json_: JsonOption = False,
) -> None:
    """Send a logged delivery's event again now, with the same webhook-id."""
    _show_delivery(_service().redeliver(webhook_id, delivery_id, actor=ctx.actor()), json_)


@webhooks_app.command("disable")
def disable(webhook_id: IdArgument, json_: JsonOption = False) -> None:
    """Stop delivering (enable resumes at the event it stopped at)."""
    _show(_service().set_enabled(webhook_id, False, actor=ctx.actor()), json_)


@webhooks_app.command("enable")
def enable(webhook_id: IdArgument, json_: JsonOption = False) -> None:
    """Deliver again (also after an automatic disable)."""
    _show(_service().set_enabled(webhook_id, True, actor=ctx.actor()), json_)


@webhooks_app.command("remove")
def remove(webhook_id: IdArgument, json_: JsonOption = False) -> None:
    """Delete a subscription and its delivery log."""
    hook = _service().remove(webhook_id, actor=ctx.actor())
    if ctx.want_json(json_):
        output.print_json(hook.model_dump(mode="json"))
        return
    output.note(f"webhook {hook.id} removed")
