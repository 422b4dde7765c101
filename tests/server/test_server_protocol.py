"""HTTP semantics on every route: HEAD, OPTIONS and Allow, security headers, 500s."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from tests.server.conftest import bearer

from promptvault.server.protocol import SECURITY_HEADERS


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """HTTP semantics do not depend on the database: SQLite only."""
    return sqlite_url


def _assert_secured(headers: object) -> None:
    for name, value in SECURITY_HEADERS.items():
        if name != "Cache-Control":
            assert headers[name] == value, name  # type: ignore[index]


def test_head_answers_wherever_get_does_with_the_get_headers(admin: TestClient) -> None:
    admin.post("/v1/prompts/a/b/versions", json={"template": "hello"})
    for path in ("/v1/prompts/a/b/resolve", "/v1/prompts/a/b", "/v1/prompts", "/healthz"):
        got = admin.get(path)
        head = admin.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-length"] == got.headers["content-length"]
    head = admin.head("/v1/prompts/a/b/resolve")
    assert head.headers["etag"] == admin.get("/v1/prompts/a/b/resolve").headers["etag"]
    assert admin.head("/v1/prompts/zzz/resolve").status_code == 404


def test_head_is_counted_under_its_route_in_metrics(admin: TestClient) -> None:
    admin.post("/v1/prompts/a/versions", json={"template": "hello"})
    admin.head("/v1/prompts/a/resolve")
    body = admin.get("/metrics").text
    route = 'route="/v1/prompts/{name}/resolve"'
    assert f'promptvault_http_requests_total{{method="HEAD",{route},status="200"}} 1' in body


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/v1/prompts/a/resolve", {"GET", "HEAD", "OPTIONS"}),
        ("/v1/prompts/a", {"GET", "HEAD", "DELETE", "OPTIONS"}),
        ("/v1/prompts/a/labels/staging", {"PUT", "OPTIONS"}),
        ("/v1/prompts/a/versions", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("/healthz", {"GET", "HEAD", "OPTIONS"}),
        ("/login", {"GET", "HEAD", "POST", "OPTIONS"}),
    ],
)
def test_options_lists_every_method_of_every_route_on_the_path(
    client: TestClient, path: str, allowed: set[str]
) -> None:
    answer = client.options(path)
    assert answer.status_code == 204
    methods = {m.strip() for m in answer.headers["allow"].split(",")}
    assert allowed <= methods, methods
    _assert_secured(answer.headers)


def test_405_names_every_allowed_method(admin: TestClient) -> None:
    assert admin.options("/no/such/thing").status_code == 404
    answer = admin.put("/v1/prompts/a")
    assert answer.status_code == 405
    allow = {m.strip() for m in answer.headers["allow"].split(",")}
    assert {"GET", "HEAD", "DELETE"} <= allow  # two routes serve this path
    assert answer.json()["error"]["code"] == "method_not_allowed"
    assert set(answer.json()["error"]["details"]["allowed"]) == allow


def test_redirects_and_errors_carry_the_security_headers(
    client: TestClient, keys: dict[str, str]
) -> None:
    redirect = client.get("/", follow_redirects=False)
    assert redirect.status_code == 303
    _assert_secured(redirect.headers)
    _assert_secured(client.get("/v1/prompts").headers)  # 401
    _assert_secured(client.get("/nowhere").headers)  # 404
    _assert_secured(client.get("/v1/prompts/a/resolve", headers=bearer(keys["admin"])).headers)
    too_big = client.post("/v1/prompts/a/versions", content=b"x" * (2 << 20))
    assert too_big.status_code == 413
    _assert_secured(too_big.headers)


def test_an_unhandled_500_says_connection_close_and_is_secured(app: FastAPI) -> None:
    @app.get("/boom-for-test")
    async def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as c:
        answer = c.get("/boom-for-test")
    assert answer.status_code == 500
    assert answer.headers["connection"] == "close"
    assert answer.json()["error"]["code"] == "internal"
    _assert_secured(answer.headers)


@pytest.mark.parametrize("query", ["", "?label=production", "?version=1"])
def test_a_not_modified_resolve_carries_the_security_headers(admin: TestClient, query: str) -> None:
    # The resolve fast path answers 304 itself, outside the middleware that adds them.
    admin.post("/v1/prompts/a/versions", json={"template": "hello"})
    path = f"/v1/prompts/a/resolve{query}"
    first = admin.get(path)
    assert first.status_code == 200
    _assert_secured(first.headers)
    again = admin.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    _assert_secured(again.headers)
