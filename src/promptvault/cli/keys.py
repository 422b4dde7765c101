"""``promptvault keys``: create, list, rotate and revoke API keys for the server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output
from promptvault.errors import InvalidInputError

if TYPE_CHECKING:
    from promptvault.entities import ApiKey
    from promptvault.registry.keys import KeyService

__all__ = ["keys_app", "parse_duration", "parse_expiry"]

keys_app = typer.Typer(help="API keys for the HTTP server and SDK.", no_args_is_help=True)

_SPAN = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: str, *, field: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``30d``, ``2w``."""
    match = _SPAN.fullmatch(value.strip())
    if not match:
        raise InvalidInputError(
            f"{field} {value!r}: use a span such as 12h, 30d or 2w",
            details={"field": field, "value": value},
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_expiry(value: str, *, now: datetime | None = None) -> datetime:
    """A span from now (``30d``) or a date / date-time (UTC unless it says otherwise)."""
    if _SPAN.fullmatch(value.strip()):
        return (now or datetime.now(UTC)) + parse_duration(value, field="--expires")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInputError(
            f"--expires {value!r}: use a span (30d, 12h) or a date (2030-01-31)",
            details={"field": "--expires", "value": value},
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@contextmanager
def _keys() -> Iterator[KeyService]:
    from promptvault.registry.keys import KeyService
    from promptvault.vault import Vault

    settings = ctx.settings()
    vault = Vault.open(settings=settings)
    try:
        yield KeyService(vault.db, rotation_grace=settings.key_rotation_grace)
    finally:
        vault.close()


def _when(value: datetime | None) -> str:
    return output.format_time(value) if value is not None else "-"


ExpiresOption = Annotated[
    str | None,
    typer.Option("--expires", metavar="WHEN", help="Expire after a span (30d, 12h) or on a date."),
]


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A name for the key (recorded as the actor).")],
    role: Annotated[
        str, typer.Option("--role", "-r", help="runtime | viewer | editor | admin")
    ] = "runtime",
    expires: ExpiresOption = None,
    langfuse: Annotated[
        bool,
        typer.Option(
            "--langfuse",
            help="Print the key as the LANGFUSE_* variables the Langfuse SDK reads.",
        ),
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a key and print it once (only a salted digest is stored).

    With --langfuse the same key is printed as a Langfuse public/secret key pair, with
    LANGFUSE_HOST set to this server (PROMPTVAULT_URL, else the serve address).

    \b
    Examples:
      promptvault keys create checkout-service --role runtime
      promptvault keys create ci --role editor --expires 30d
      promptvault keys create app --role runtime --langfuse >> .env
    """
    from promptvault.registry.keys import langfuse_pair

    expires_at = parse_expiry(expires) if expires else None
    with _keys() as service:
        plaintext, record = service.create(name, role, actor=ctx.actor(), expires_at=expires_at)
    pair = langfuse_pair(plaintext) if langfuse else None
    if ctx.want_json(json_):
        body: dict[str, object] = {"key": plaintext, "api_key": record.model_dump(mode="json")}
        if pair is not None:
            body["langfuse"] = {"public_key": pair[0], "secret_key": pair[1], "host": _host()}
        output.print_json(body)
        return
    if pair is not None:
        typer.echo(f"LANGFUSE_PUBLIC_KEY={pair[0]}")
        typer.echo(f"LANGFUSE_SECRET_KEY={pair[1]}")
        typer.echo(f"LANGFUSE_HOST={_host()}")
    else:
        typer.echo(plaintext)
    until = f", expires {_when(record.expires_at)}" if record.expires_at else ""
    output.note(
        f"key {record.name!r} ({record.role}{until}) created; store it now, it is not shown again"
    )


def _host() -> str:
    settings = ctx.settings()
    if settings.url:
        return settings.url.rstrip("/")
    return f"http://{settings.host}:{settings.port}"


def _row(r: ApiKey) -> tuple[str, str, str, str, str, str]:
    return (
        r.prefix,
        r.name,
        r.role,
        r.state,
        _when(r.expires_at),
        _when(r.last_used_at),
    )


@keys_app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include revoked and expired keys.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Keys with their role, state, expiry and last use (never the secret).

    A rotated key in its grace period shows as ``rotating``; last use is recorded at most
    once a minute per key.
    """
    with _keys() as service:
        records = service.list(include_revoked=all_)
    if ctx.want_json(json_):
        output.print_json([r.model_dump(mode="json") for r in records])
        return
    output.table(
        ["key", "name", "role", "state", "expires", "last used"],
        [_row(r) for r in records],
        empty="no API keys",
    )


@keys_app.command("rotate")
def rotate(
    key: Annotated[str, typer.Argument(help="Key name, id or pv_<id> prefix.")],
    grace: Annotated[
        str | None,
        typer.Option(
            "--grace",
            metavar="SPAN",
            help="How long the old key keeps working (default: the setting, 24h).",
        ),
    ] = None,
    expires: ExpiresOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Issue a new key with the same name and role; the old one stops after the grace period.

    \b
    Example:
      promptvault keys rotate checkout-service --grace 2h
    """
    grace_seconds = parse_duration(grace, field="--grace").total_seconds() if grace else None
    expires_at = parse_expiry(expires) if expires else None
    with _keys() as service:
        plaintext, record, old = service.rotate(
            key, actor=ctx.actor(), grace=grace_seconds, expires_at=expires_at
        )
    if ctx.want_json(json_):
        output.print_json(
            {
                "key": plaintext,
                "api_key": record.model_dump(mode="json"),
                "replaced": old.model_dump(mode="json"),
            }
        )
        return
    typer.echo(plaintext)
    output.note(
        f"key {record.name!r} rotated: store the new key now; the old {old.prefix} works "
        f"until {_when(old.expires_at)}"
    )


@keys_app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="Key id, pv_<id> prefix, or name.")],
) -> None:
    """Revoke a key (servers stop accepting it within the label TTL, this one at once).

    A name revokes every live key with that name, a rotated key in its grace period too.
    """
    with _keys() as service:
        record = service.revoke(key, actor=ctx.actor())
    typer.echo(f"revoked {record.prefix} ({record.name})")
