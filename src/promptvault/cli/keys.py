"""``promptvault keys``: create, list and revoke API keys for the server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output

if TYPE_CHECKING:
    from promptvault.registry.keys import KeyService

__all__ = ["keys_app"]

keys_app = typer.Typer(help="API keys for the HTTP server and SDK.", no_args_is_help=True)


@contextmanager
def _keys() -> Iterator[KeyService]:
    from promptvault.registry.keys import KeyService
    from promptvault.vault import Vault

    vault = Vault.open(settings=ctx.settings())
    try:
        yield KeyService(vault.db)
    finally:
        vault.close()


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A name for the key (recorded as the actor).")],
    role: Annotated[
        str, typer.Option("--role", "-r", help="runtime | viewer | editor | admin")
    ] = "runtime",
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a key and print it once (only a salted digest is stored).

    \b
    Example:
      promptvault keys create checkout-service --role runtime
    """
    with _keys() as service:
        plaintext, record = service.create(name, role, actor=ctx.actor())
    if ctx.want_json(json_):
        output.print_json({"key": plaintext, "api_key": record.model_dump(mode="json")})
        return
    typer.echo(plaintext)
    output.note(f"key {record.name!r} ({record.role}) created; store it now, it is not shown again")


@keys_app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Keys with their role and prefix (never the secret)."""
    with _keys() as service:
        records = service.list(include_revoked=all_)
    if ctx.want_json(json_):
        output.print_json([r.model_dump(mode="json") for r in records])
        return
    for r in records:
        state = "revoked" if r.revoked_at else "active"
        typer.echo(f"{r.prefix}  {r.name:<24} {r.role:<8} {state:<8} {r.created_at:%Y-%m-%d}")


@keys_app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="Key id, pv_<id> prefix, or name.")],
) -> None:
    """Revoke a key (servers stop accepting it within the label TTL, this one at once)."""
    with _keys() as service:
        record = service.revoke(key, actor=ctx.actor())
    typer.echo(f"revoked {record.prefix} ({record.name})")
