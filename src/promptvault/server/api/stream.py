"""``GET /v1/stream``: change events as Server-Sent Events (every role, or a UI session)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from promptvault.entities import MAX_INT, ApiKey
from promptvault.errors import InvalidInputError
from promptvault.server.auth import Permission, authorize, presented_key
from promptvault.server.errors import ERROR_RESPONSES
from promptvault.server.stream import broadcaster_for

__all__ = ["CookieAuth", "router"]

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)

# Set by the web UI when it is mounted: the signed-in session's key, or None.
CookieAuth = Callable[[Request], Awaitable[ApiKey | None]]


async def _stream_key(request: Request) -> ApiKey:
    """An API key with the resolve permission, or the web UI's session (its pages follow
    changes live through the same stream)."""
    if presented_key(request) is None:
        cookie_auth: CookieAuth | None = getattr(request.app.state, "cookie_auth", None)
        if cookie_auth is not None:
            key = await cookie_auth(request)
            if key is not None:
                request.state.api_key = key
                return key
    return await authorize(request, Permission.RESOLVE)


def _resume_from(after: int | None, last_event_id: str | None) -> int | None:
    if last_event_id is None or not last_event_id.strip():
        return after
    text = last_event_id.strip()
    if not text.isdigit() or int(text) > MAX_INT:
        raise InvalidInputError(
            "Last-Event-ID must be the id of an event the stream sent",
            details={"field": "Last-Event-ID", "value": text[:40]},
        )
    # The browser's reconnect header wins over the page's original ?after=.
    return max(int(text), after or 0)


@router.get(
    "/v1/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An SSE stream."}},
)
async def stream(
    request: Request,
    _key: Annotated[ApiKey, Depends(_stream_key)],
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_INT, description="Send events after this id (default: from now)."),
    ] = None,
    prefix: Annotated[
        str | None, Query(max_length=200, description="Only prompts whose name starts so.")
    ] = None,
    duration: Annotated[
        float | None,
        Query(ge=0, le=86400, description="End the stream after this many seconds."),
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Change events as they commit: ``id:`` is the event id, ``event:`` its type,
    ``data:`` the event as JSON; a ``: heartbeat`` comment on idle. Reconnect with
    ``Last-Event-ID`` to resume without loss."""
    if prefix is not None and "\x00" in prefix:  # no prompt name holds one
        raise InvalidInputError(
            "prefix must be a prompt-name prefix, without NUL", details={"field": "prefix"}
        )
    start = _resume_from(after, last_event_id)
    body = broadcaster_for(request.app).stream(after=start, prefix=prefix, duration=duration)
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
