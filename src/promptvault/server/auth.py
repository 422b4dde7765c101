"""Who may do what: roles, the permissions they grant, and the FastAPI dependencies that check.

==========  =====================================================================
role        may
==========  =====================================================================
runtime     resolve, render, build; ingest events
viewer      every read (including resolve/render/build)
editor      viewer + push, archive, non-protected label moves; ingest events
admin       everything: protected labels (``settings.protected_labels``), keys,
            audit verification, approving change requests
==========  =====================================================================

A key is sent as ``Authorization: Bearer pv_...`` or ``X-API-Key: pv_...``. The audit log
records the key's name as the actor of every write made with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from promptvault.entities import ApiKey
from promptvault.errors import (
    ApprovalRequiredError,
    ForbiddenError,
    LabelProtectedError,
    UnauthenticatedError,
)
from promptvault.registry.keys import parse_key
from promptvault.server.ratelimit import AuthGuard
from promptvault.server.singleflight import SingleFlight

__all__ = [
    "ROLE_PERMISSIONS",
    "Admin",
    "Permission",
    "Reader",
    "Resolver",
    "Sender",
    "Writer",
    "authorize",
    "authorize_key",
    "check_labels",
    "client_address",
    "has",
    "presented_key",
    "require",
]


class Permission(StrEnum):
    """What an endpoint needs."""

    RESOLVE = "resolve"  # resolve / render / build: what applications do on every request
    EVENTS = "events"  # experiment exposure and outcome ingestion
    READ = "read"  # listings, versions, labels, history, diff, audit log
    WRITE = "write"  # push, archive, moves of non-protected labels
    PROTECTED = "protected"  # moves of protected labels
    ADMIN = "admin"  # API keys, audit verification
    APPROVE = "approve"  # approve or reject change requests (four-eyes label moves)


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "runtime": frozenset({Permission.RESOLVE, Permission.EVENTS}),
    "viewer": frozenset({Permission.RESOLVE, Permission.READ}),
    "editor": frozenset({Permission.RESOLVE, Permission.EVENTS, Permission.READ, Permission.WRITE}),
    "admin": frozenset(Permission),
}


def has(key: ApiKey, permission: Permission) -> bool:
    """Whether ``key``'s role grants ``permission``."""
    return permission in ROLE_PERMISSIONS.get(key.role, frozenset())


def presented_key(request: Request) -> str | None:
    """The API key the request carries, if any."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return request.headers.get("x-api-key") or None


# Requests presenting the same key when its cache entry expires share one lookup.
_AUTH_FLIGHT = SingleFlight()


def client_address(scope: Any) -> str | None:
    """The client's address (behind a trusted proxy, the one it forwarded)."""
    client = scope.get("client")
    return str(client[0]) if client else None


async def authorize_key(
    keys: Any,
    plaintext: str | None,
    permission: Permission,
    *,
    guard: AuthGuard | None = None,
    client: str | None = None,
) -> ApiKey:
    """The key for ``plaintext`` if its role grants ``permission``; else 401 or 403.

    With a ``guard``, a client (or key id) with too many recent failures gets 429 before
    any lookup, and every failed lookup counts against both.
    """
    # A recently seen key costs a dict lookup; only a miss goes to the database (in a thread).
    cached: ApiKey | None = keys.cached(plaintext)
    if cached is not None:
        key = cached
    else:
        parsed = parse_key(plaintext) if plaintext else None
        key_id = parsed[0] if parsed else None
        if guard is not None and plaintext:
            guard.check(client, key_id)
        try:
            key = await _AUTH_FLIGHT.run((id(keys), plaintext), keys.authenticate, plaintext)
            assert isinstance(key, ApiKey)
        except UnauthenticatedError:
            if guard is not None and plaintext:  # no key at all is not a guess
                guard.failed(client, key_id)
                if guard.window_over():
                    await run_in_threadpool(guard.flush)
            raise
    if not has(key, permission):
        raise ForbiddenError(
            f"the {key.role!r} role may not do this (needs {permission.value!r})",
            details={"role": key.role, "permission": permission.value},
        )
    return key


async def authorize(request: Request, permission: Permission) -> ApiKey:
    """Authenticate the request's key and check ``permission``; the key goes on
    ``request.state.api_key``."""
    key = await authorize_key(
        request.app.state.keys,
        presented_key(request),
        permission,
        guard=getattr(request.app.state, "auth_guard", None),
        client=client_address(request.scope),
    )
    request.state.api_key = key
    return key


def require(permission: Permission) -> Callable[[Request], Awaitable[ApiKey]]:
    """A dependency that authenticates the request and checks one permission."""

    async def dependency(request: Request) -> ApiKey:
        return await authorize(request, permission)

    dependency.__name__ = f"require_{permission.value}"
    return dependency


# The key parameter types routes declare: ``_key: Reader`` means "needs READ".
Resolver = Annotated[ApiKey, Depends(require(Permission.RESOLVE))]
Sender = Annotated[ApiKey, Depends(require(Permission.EVENTS))]
Reader = Annotated[ApiKey, Depends(require(Permission.READ))]
Writer = Annotated[ApiKey, Depends(require(Permission.WRITE))]
Admin = Annotated[ApiKey, Depends(require(Permission.ADMIN))]
Approver = Annotated[ApiKey, Depends(require(Permission.APPROVE))]


def check_direct_move(labels: Iterable[str], approval: Iterable[str]) -> None:
    """Refuse a direct move of a label that needs approval: it goes through a request."""
    blocked = sorted(set(labels) & set(approval))
    if blocked:
        raise ApprovalRequiredError(
            f"label {blocked[0]!r} needs a second person's approval: request the move "
            "(POST /v1/requests, or Promote in the web UI) and have an approver approve it",
            details={"field": "label", "label": blocked[0]},
        )


def check_conclusion(
    label: str, held: int | None, winner_version: int, approval: Iterable[str]
) -> None:
    """Refuse concluding an experiment that would move an approval label.

    Concluding moves the label to the winner's version: on a label that needs approval that
    is a direct move, so it goes through a request too (stop the experiment, then request
    the move). Concluding for the version the label already holds moves nothing.
    """
    if winner_version != held:
        check_direct_move([label], approval)


def check_labels(key: ApiKey, labels: Iterable[str], protected: Iterable[str]) -> None:
    """Refuse moves of protected labels unless ``key`` may move them."""
    if has(key, Permission.PROTECTED):
        return
    blocked = sorted(set(labels) & set(protected))
    if blocked:
        raise LabelProtectedError(
            f"label {blocked[0]!r} is protected: only an admin key may move it",
            details={"field": "label", "label": blocked[0], "role": key.role},
        )
