"""Sign-in, sessions, CSRF and role checks of the web UI, in process over real SQLite."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.server.ui.session import SESSION_COOKIE, SessionCodec

from .conftest import csrf_of, sign_in

AsRole = Callable[[str], TestClient]


@pytest.fixture
def greeting(vault: Vault) -> str:
    vault.push("team/greeting", template="Hello {{name}}!", message="first", author="alice")
    vault.push("team/greeting", template="Hi {{name}}!", message="shorter", author="bob")
    return "team/greeting"


def test_pages_redirect_to_sign_in_and_back(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get("/prompts/team/x?v=2", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fprompts%2Fteam%2Fx%3Fv%3D2"
    page = client.get(response.headers["location"])
    assert 'name="next" value="/prompts/team/x?v=2"' in page.text
    signed = client.post(
        "/login",
        data={"api_key": keys["viewer"], "csrf": csrf_of(page.text), "next": "/prompts/team/x"},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/prompts/team/x"


def test_session_cookie_is_httponly_strict_and_holds_no_key(
    client: TestClient, keys: dict[str, str]
) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"api_key": keys["editor"], "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    secret = keys["editor"].split("_", 2)[2]
    assert secret not in cookie and keys["editor"] not in cookie


@pytest.mark.parametrize(
    ("key", "status", "text"),
    [
        ("pv_000000000000_nope", 401, "unknown or revoked"),
        ("", 401, "unknown or revoked"),
        ("runtime", 403, "is for applications"),
    ],
)
def test_sign_in_refusals(
    client: TestClient, keys: dict[str, str], key: str, status: int, text: str
) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"api_key": keys.get(key, key), "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == status
    assert text in response.text
    assert SESSION_COOKIE not in response.cookies


def test_sign_in_without_the_form_token_is_refused(
    client: TestClient, keys: dict[str, str]
) -> None:
    client.get("/login")  # sets the double-submit cookie
    response = client.post(
        "/login", data={"api_key": keys["admin"], "csrf": "forged"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.cookies


def test_sign_in_never_redirects_off_site(client: TestClient, keys: dict[str, str]) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"api_key": keys["viewer"], "csrf": csrf_of(page.text), "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_tampered_or_expired_sessions_are_signed_out(app: FastAPI, as_role: AsRole) -> None:
    client = as_role("viewer")
    assert client.get("/", follow_redirects=False).status_code == 200
    value = client.cookies[SESSION_COOKIE]
    head, sig = value.split(".")
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, head + "." + sig[::-1])
    assert client.get("/", follow_redirects=False).status_code == 303
    # A session issued longer ago than the lifetime is refused even with a valid signature.
    codec: SessionCodec = app.state.ui.codec
    old = SessionCodec(codec._secret, max_age=codec.max_age, clock=lambda: 1000.0)
    stale, _ = old.issue(app.state.ui.keys.list()[0].id)
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, stale)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_revoking_the_key_ends_its_sessions(app: FastAPI, as_role: AsRole) -> None:
    client = as_role("editor")
    assert client.get("/", follow_redirects=False).status_code == 200
    app.state.keys.revoke("editor-key", actor="test")
    app.state.ui.forget_keys()  # other servers see it within the key cache TTL
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sign_out_needs_the_token_then_ends_the_session(as_role: AsRole) -> None:
    client = as_role("viewer")
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    page = client.get("/")
    response = client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_posts_without_the_csrf_token_are_refused(
    vault: Vault, greeting: str, as_role: AsRole
) -> None:
    client = as_role("admin")
    for url, data in [
        (f"/promote/{greeting}", {"label": "staging", "version": "2"}),
        (f"/edit/{greeting}", {"template": "changed", "message": "m"}),
        ("/new", {"name": "fresh", "template": "x", "message": "m"}),
        ("/audit/verify", {}),
    ]:
        for token in (None, "wrong"):
            form = dict(data) | ({"csrf": token} if token else {})
            response = client.post(url, data=form, follow_redirects=False)
            assert response.status_code == 403, url
            assert "security token" in response.text
    assert vault.labels(greeting) == {"production": 1}
    assert len(vault.versions(greeting)) == 2
    assert [p.name for p in vault.list_prompts()] == [greeting]
    check = client.post("/ui/api/check", data={"template": "x"})
    assert check.status_code == 403
    assert check.json()["error"]["code"] == "forbidden"


def test_csrf_tokens_are_bound_to_the_session(greeting: str, as_role: AsRole) -> None:
    alice, bob = as_role("admin"), as_role("admin")
    token = csrf_of(alice.get("/").text)
    response = bob.post(
        f"/promote/{greeting}",
        data={"csrf": token, "label": "staging", "version": "2"},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_viewer_sees_no_edit_controls_and_is_refused_anyway(
    vault: Vault, greeting: str, as_role: AsRole
) -> None:
    viewer = as_role("viewer")
    vault.set_label(greeting, "staging", 1, actor="setup")
    vault.set_label(greeting, "staging", 2, actor="setup")
    page = viewer.get(f"/prompts/{greeting}")
    assert page.status_code == 200
    for control in ("Promote", ">Edit<", "Roll back", "/edit/", "New prompt"):
        assert control not in page.text
    assert "New prompt" not in viewer.get("/").text
    assert "Verify chain" not in viewer.get("/audit").text
    token = csrf_of(page.text)
    forged = [
        (f"/promote/{greeting}", {"label": "staging", "version": "1"}),
        (f"/rollback/{greeting}", {"label": "staging"}),
        (f"/edit/{greeting}", {"template": "x", "message": "m"}),
        ("/new", {"name": "other", "template": "x", "message": "m"}),
        ("/audit/verify", {}),
    ]
    for url, data in forged:
        response = viewer.post(url, data=data | {"csrf": token}, follow_redirects=False)
        assert response.status_code == 403, url
    for url in (f"/edit/{greeting}", "/new", f"/rollback/{greeting}?label=staging"):
        assert viewer.get(url).status_code == 403
    assert vault.labels(greeting) == {"production": 1, "staging": 2}
    assert len(vault.versions(greeting)) == 2
    assert [p.name for p in vault.list_prompts()] == [greeting]


def test_editor_may_not_move_protected_labels(vault: Vault, greeting: str, as_role: AsRole) -> None:
    editor = as_role("editor")
    page = editor.get(f"/prompts/{greeting}")
    assert '<option value="production"' not in page.text  # not offered
    assert '<option value="staging"' in page.text
    token = csrf_of(page.text)
    refused = editor.post(
        f"/promote/{greeting}",
        data={"csrf": token, "label": "production", "version": "2"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert "protected" in refused.text
    moved = editor.post(
        f"/promote/{greeting}",
        data={"csrf": token, "label": "staging", "version": "2"},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert vault.labels(greeting) == {"production": 1, "staging": 2}
    assert vault.label_history(greeting, "staging")[0].actor == "editor-key"


def test_only_admins_verify_the_audit_chain(greeting: str, as_role: AsRole) -> None:
    editor = as_role("editor")
    token = csrf_of(editor.get("/audit").text)
    assert editor.post("/audit/verify", data={"csrf": token}).status_code == 403
    admin = as_role("admin")
    page = admin.get("/audit")
    assert "Verify chain" in page.text
    result = admin.post("/audit/verify", data={"csrf": csrf_of(page.text)})
    assert result.status_code == 200
    assert "Chain intact" in result.text


def test_pages_send_a_strict_content_security_policy(as_role: AsRole) -> None:
    page = as_role("viewer").get("/")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["x-frame-options"] == "DENY"


def test_ui_routes_stay_out_of_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    api = ("/v1", "/api/public/", "/healthz", "/readyz", "/metrics")  # /api/public: Langfuse
    assert all(p.startswith(api) for p in paths)


def test_signed_in_pages_need_a_read_role(app: FastAPI, keys: dict[str, str]) -> None:
    # A runtime key cannot get a session, and a forged session for it is refused too.
    client = TestClient(app)
    runtime = next(k for k in app.state.keys.list() if k.role == "runtime")
    stored = app.state.ui.sessions.start(runtime.id)
    value, _ = app.state.ui.codec.issue(runtime.id, stored)
    client.cookies.set(SESSION_COOKIE, value)
    assert client.get("/", follow_redirects=False).status_code == 303
    assert sign_in(TestClient(app), keys["viewer"]).get("/").status_code == 200
