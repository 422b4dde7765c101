"""What every UI page shares: templates, the signed-in user, CSRF checks, error pages.

Role checks are the server's own (:mod:`promptvault.server.auth`): the pages use
:func:`~promptvault.server.auth.has` to decide which buttons to offer, and every action
checks the same permission again before it changes anything.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from promptvault import __version__
from promptvault.entities import ApiKey
from promptvault.errors import ForbiddenError, InvalidInputError, PromptVaultError
from promptvault.registry.keys import KeyService
from promptvault.registry.sessions import SessionStore
from promptvault.server.auth import Permission, has
from promptvault.server.errors import error_response, status_for
from promptvault.server.protocol import SECURITY_HEADERS
from promptvault.server.ui.highlight import highlight
from promptvault.server.ui.session import SESSION_COOKIE, Session, SessionCodec
from promptvault.server.ui.worddiff import DiffRow, diff_rows

__all__ = [
    "UserDep",
    "checked_form",
    "form_text",
    "SECURITY_HEADERS",
    "LoginRequired",
    "UIRoute",
    "UIState",
    "User",
    "check_csrf",
    "current_user",
    "flash",
    "page",
    "prompt_url",
    "redirect",
    "require_permission",
    "session_key",
    "ui_state",
]

FLASH_COOKIE = "pv_flash"
_MEMO_MAX = 4096
_MISSING = object()


class LoginRequired(Exception):
    """No valid session: pages redirect to sign-in, scripts get a 401."""


@dataclass(frozen=True, slots=True)
class User:
    """The signed-in API key and what its role may do."""

    key: ApiKey
    session: Session

    @property
    def csrf(self) -> str:
        """The CSRF token every form of this session carries."""
        return self.session.csrf

    @property
    def can_write(self) -> bool:
        """Push versions and move non-protected labels."""
        return has(self.key, Permission.WRITE)

    @property
    def can_protected(self) -> bool:
        """Move protected labels (``production`` by default)."""
        return has(self.key, Permission.PROTECTED)

    @property
    def can_approve(self) -> bool:
        """Approve or reject change requests (never one's own)."""
        return has(self.key, Permission.APPROVE)

    @property
    def can_admin(self) -> bool:
        """Verify the audit chain, manage keys."""
        return has(self.key, Permission.ADMIN)


class UIState:
    """Per-app UI services: templates, the session codec and an active-key cache."""

    def __init__(
        self, codec: SessionCodec, keys: KeyService, sessions: SessionStore, *, key_ttl: float
    ) -> None:
        self.codec = codec
        self.keys = keys
        self.sessions = sessions
        self.key_ttl = key_ttl
        self._active: dict[str, ApiKey] = {}
        self._active_until = 0.0
        self._lock = threading.Lock()
        self._memo: dict[tuple[Any, ...], Any] = {}
        self.env = _environment()

    def active_key(self, key_id: str) -> ApiKey | None:
        """The active key with this id; revocations show within ``key_ttl`` seconds."""
        now = time.monotonic()
        if now >= self._active_until:
            keys = {k.id: k for k in self.keys.list()}
            with self._lock:
                self._active, self._active_until = keys, now + self.key_ttl
        return self._active.get(key_id)

    def memo(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """``compute()`` once per ``key`` (bounded); keys must change when the value would.

        Pages key what they derive from a prompt (history, label moves) by the prompt's
        ``updated_at``, which every push and label move advances, on any server.
        """
        hit = self._memo.get(key, _MISSING)
        if hit is _MISSING:
            hit = compute()
            with self._lock:
                if len(self._memo) >= _MEMO_MAX:
                    self._memo.clear()
                self._memo[key] = hit
        return hit

    def peek(self, key_id: str) -> ApiKey | None:
        """The active key with this id when the cache is fresh (no database access)."""
        if time.monotonic() < self._active_until:
            return self._active.get(key_id)
        return None

    def forget_keys(self) -> None:
        """Drop the active-key cache (after a sign-in, so a new key is seen at once)."""
        with self._lock:
            self._active_until = 0.0


def ui_state(request: Request) -> UIState:
    """The UI services of the app serving ``request``."""
    state: UIState = request.app.state.ui
    return state


# --- templates ---------------------------------------------------------------------------


def _ago(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = (datetime.now(UTC) - value).total_seconds()
    for limit, size, unit in (
        (60, 1, "s"),
        (3600, 60, "min"),
        (86400, 3600, "h"),
        (86400 * 60, 86400, "d"),
    ):
        if seconds < limit:
            return f"{max(int(seconds // size), 0)} {unit} ago"
    return value.strftime("%Y-%m-%d")


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def _short_json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _diff_json(before: Any, after: Any) -> list[DiffRow]:
    def text(value: Any) -> str:
        return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)

    return diff_rows(text(before), text(after))


def prompt_url(name: str, page: str = "prompts") -> str:
    """The URL of a prompt's page (``prompts``, ``edit``, ``diff``, ``play``...)."""
    return f"/{page}/{quote(name, safe='/')}"


def _static_version() -> str:
    # Cache-busting per release: static files are served with a long max-age.
    return __version__


def _environment() -> jinja2.Environment:
    folder = resources.files("promptvault.server.ui") / "templates"
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=True,  # every page is HTML: user text is always escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        ago=_ago, when=_when, pretty_json=_pretty_json, short_json=_short_json, url=quote
    )
    env.globals.update(
        prompt_url=prompt_url,
        highlight=highlight,
        diff_rows_json=_diff_json,
        static_version=_static_version(),
        app_version=__version__,
    )
    return env


# --- users, CSRF, responses --------------------------------------------------------------


def _session_of(request: Request) -> Session | None:
    return ui_state(request).codec.read(request.cookies.get(SESSION_COOKIE))


async def current_user(request: Request) -> User:
    """The signed-in user (else :class:`LoginRequired`); runtime keys cannot use the UI."""
    cached = getattr(request.state, "ui_user", None)
    if isinstance(cached, User):
        return cached
    session = _session_of(request)
    if session is None:
        raise LoginRequired
    state = ui_state(request)
    # The signature proves the cookie is ours; the store says it was not signed out.
    live_key = state.sessions.cached_key(session.nonce)
    if live_key is None:
        live_key = await run_in_threadpool(state.sessions.key_of, session.nonce)
    if live_key != session.key_id:
        raise LoginRequired
    key = state.peek(session.key_id)
    if key is None:
        key = await run_in_threadpool(state.active_key, session.key_id)
    if key is None or not has(key, Permission.READ):
        raise LoginRequired
    user = User(key, session)
    request.state.ui_user = user
    request.state.api_key = key
    return user


async def session_key(request: Request) -> ApiKey | None:
    """The key of the request's signed-in session, or None (no or an ended session)."""
    if SESSION_COOKIE not in request.cookies:
        return None
    try:
        return (await current_user(request)).key
    except LoginRequired:
        return None


def require_permission(user: User, permission: Permission) -> None:
    """Refuse (403) what ``user``'s role does not allow; the pages hide it too."""
    if not has(user.key, permission):
        raise ForbiddenError(
            f"the {user.key.role!r} role may not do this (needs {permission.value!r})",
            details={"role": user.key.role, "permission": permission.value},
        )


async def check_csrf(request: Request, user: User) -> Mapping[str, Any]:
    """The submitted form, after checking its CSRF token (or the ``X-CSRF-Token`` header)."""
    form = await request.form()
    given = request.headers.get("x-csrf-token") or form.get("csrf")
    if not SessionCodec.csrf_matches(user.csrf, given if isinstance(given, str) else None):
        raise ForbiddenError(
            "the form's security token is missing or out of date; reload the page and retry",
            details={"field": "csrf"},
        )
    return form


async def checked_form(request: Request, user: User, permission: Permission) -> Mapping[str, Any]:
    """The submitted form of an action: its CSRF token checked, then ``permission``."""
    form = await check_csrf(request, user)
    require_permission(user, permission)
    return form


def form_text(form: Mapping[str, Any], field: str) -> str:
    """A text field of a submitted form ("" when absent), with browsers' CRLF made LF."""
    value = form.get(field)
    return value.replace("\r\n", "\n") if isinstance(value, str) else ""


async def uploaded_text(form: Mapping[str, Any], field: str, limit: int) -> tuple[str, str]:
    """``(text, filename)`` of a file uploaded in ``field``: at most ``limit`` bytes of UTF-8
    (a BOM is dropped); anything else is bad input naming the field."""
    upload = form.get(field)
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInputError("choose a .jsonl or .csv file", details={"field": field})
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise InvalidInputError(
            f"the file is larger than {limit // (1024 * 1024)} MB", details={"field": field}
        )
    try:
        return data.decode("utf-8-sig"), upload.filename
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"the file is not UTF-8 text (byte {exc.start})", details={"field": field}
        ) from None


UserDep = Annotated[User, Depends(current_user)]
"""A route parameter for the signed-in user."""


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """Render ``template`` with the common context into an HTML response."""
    state = ui_state(request)
    user = getattr(request.state, "ui_user", None)
    data: dict[str, Any] = {
        "request": request,
        "user": user,
        "csrf": user.csrf if isinstance(user, User) else "",
        "flash": _read_flash(request),
        "path": request.url.path,
    }
    if context:
        data.update(context)
    html = state.env.get_template(template).render(data)
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if data["flash"]:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def _read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {"kind": str(data.get("kind", "ok")), "text": str(data.get("text", ""))}


def redirect(url: str) -> RedirectResponse:
    """A 303 (see other) to ``url``, after a successful POST."""
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def flash(response: Response, text: str, *, kind: str = "ok") -> Response:
    """Show ``text`` once on the next page (a short-lived cookie, escaped when shown)."""
    response.set_cookie(
        FLASH_COOKIE,
        json.dumps({"kind": kind, "text": text[:500]}),
        max_age=60,
        path="/",
        httponly=True,
        samesite="strict",
    )
    return response


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/ui/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def _error_page(request: Request, error: PromptVaultError) -> Response:
    status = status_for(error)
    if _wants_json(request):
        return error_response(error.code, error.message, error.details, status=status)
    return page(request, "error.html", {"error": error, "status": status}, status=status)


def _login_needed(request: Request) -> Response:
    if _wants_json(request):
        return JSONResponse(
            {"error": {"code": "unauthenticated", "message": "sign in again", "details": {}}},
            status_code=401,
        )
    if request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(f"/login?next={quote(target, safe='')}")
    return redirect("/login")


class UIRoute(APIRoute):
    """A route whose failures become HTML pages (or JSON for the page scripts)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: sign-in redirects and promptvault errors as pages."""
        handler = super().get_route_handler()

        async def ui_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return _login_needed(request)
            except PromptVaultError as error:
                return _error_page(request, error)

        return ui_handler
