"""Sign in with an API key, sign out."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from promptvault.errors import RateLimitedError, UnauthenticatedError
from promptvault.registry.keys import parse_key
from promptvault.server.auth import Permission, client_address, has
from promptvault.server.ratelimit import AuthGuard
from promptvault.server.ui.session import CSRF_COOKIE, SESSION_COOKIE, SessionCodec
from promptvault.server.ui.views import (
    LoginRequired,
    UIRoute,
    check_csrf,
    current_user,
    page,
    redirect,
    ui_state,
)

__all__ = ["router"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)


def _safe_next(target: object) -> str:
    # Only local paths: "//evil.example" or "https://..." would make sign-in an open redirect.
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//"):
        return target if "\\" not in target else "/"
    return "/"


def _login_page(request: Request, *, error: str = "", status: int = 200) -> Response:
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = page(
        request,
        "login.html",
        {
            "login_csrf": token,
            "next": _safe_next(request.query_params.get("next")),
            "error": error,
        },
        status=status,
    )
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/login",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    """The sign-in page (straight to the prompt list when already signed in)."""
    try:
        await current_user(request)
    except LoginRequired:
        return _login_page(request)
    return redirect(_safe_next(request.query_params.get("next")))


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the key, then start a session referencing it."""
    form = await request.form()
    given = form.get("csrf")
    expected = request.cookies.get(CSRF_COOKIE) or ""
    if not expected or not SessionCodec.csrf_matches(
        expected, given if isinstance(given, str) else None
    ):
        return _login_page(request, error="The sign-in form expired. Please try again.", status=403)
    plaintext = str(form.get("api_key") or "").strip()
    state = ui_state(request)
    guard: AuthGuard = request.app.state.auth_guard
    client = client_address(request.scope)
    parsed = parse_key(plaintext)
    key_id = parsed[0] if parsed else None
    try:
        guard.check(client, key_id)
        key = await run_in_threadpool(state.keys.authenticate, plaintext)
    except RateLimitedError as limited:
        wait = limited.details["retry_after"]
        response = _login_page(
            request,
            error=f"Too many failed sign-ins. Please wait {wait} seconds and try again.",
            status=429,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    except UnauthenticatedError:
        guard.failed(client, key_id)
        return _login_page(request, error="That API key is unknown or revoked.", status=401)
    if not has(key, Permission.READ):
        return _login_page(
            request,
            error=f"A {key.role!r} key is for applications; sign in with a viewer, editor "
            "or admin key.",
            status=403,
        )
    session_id = await run_in_threadpool(state.sessions.start, key.id)
    value, _session = state.codec.issue(key.id, session_id)
    state.forget_keys()
    response = redirect(_safe_next(form.get("next")))
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=state.codec.max_age,
        httponly=True,
        samesite="strict",
        path="/",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session on the server, then drop the cookie (the form carries the CSRF
    token, like every other): a copy of the cookie no longer works anywhere."""
    user = await current_user(request)
    await check_csrf(request, user)
    await run_in_threadpool(ui_state(request).sessions.end, user.session.nonce)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
