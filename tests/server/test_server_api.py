"""The REST API against a real database (SQLite and PostgreSQL), in process."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.server.app import create_app

from .conftest import bearer

NAME = "team/support"  # names with slashes work in paths


def push(client: TestClient, template: Any, name: str = NAME, **body: Any) -> httpx.Response:
    return client.post(f"/v1/prompts/{name}/versions", json={"template": template, **body})


def test_push_resolve_etag_and_304(admin: TestClient) -> None:
    first = push(admin, "Hello {{name}}", config={"model": "gpt-4o", "temperature": 0.2})
    assert first.status_code == 201, first.text
    assert first.json()["created"] is True
    same = push(admin, "Hello {{name}}", config={"model": "gpt-4o", "temperature": 0.2})
    assert same.status_code == 200 and same.json()["created"] is False

    got = admin.get(f"/v1/prompts/{NAME}/resolve")
    assert got.status_code == 200
    body = got.json()
    assert body["name"] == NAME and body["version"] == 1
    assert body["config"]["temperature"] == 0.2
    assert body["resolved_label"] == "production"
    assert got.headers["etag"] == f'"{body["hash"]}"'

    cached = admin.get(
        f"/v1/prompts/{NAME}/resolve", headers={"If-None-Match": got.headers["etag"]}
    )
    assert cached.status_code == 304 and cached.content == b""
    other = admin.get(f"/v1/prompts/{NAME}/resolve", headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200

    push(admin, "Hi {{name}}", labels=["staging"])
    assert admin.get(f"/v1/prompts/{NAME}/resolve?label=staging").json()["version"] == 2
    assert admin.get(f"/v1/prompts/{NAME}/resolve?version=1").json()["version"] == 1
    both = admin.get(f"/v1/prompts/{NAME}/resolve?version=1&label=staging")
    assert both.status_code == 422 and both.json()["error"]["details"]["field"] == "version"


def test_render_text_and_missing_variables(admin: TestClient) -> None:
    push(admin, "Hello {{name}} from {{company}}")
    ok = admin.post(
        f"/v1/prompts/{NAME}/render", json={"variables": {"name": "Ada", "company": "Acme"}}
    )
    assert ok.status_code == 200
    assert ok.json()["output"] == "Hello Ada from Acme" and ok.json()["version"] == 1
    missing = admin.post(f"/v1/prompts/{NAME}/render", json={"variables": {"name": "Ada"}})
    assert missing.status_code == 422
    error = missing.json()["error"]
    assert error["code"] == "missing_variables"
    assert [m["name"] for m in error["details"]["missing"]] == ["company"]
    assert error["details"]["field"] == "variables.company"


def test_a_schema_error_on_a_large_value_has_a_bounded_message(admin: TestClient) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    pushed = admin.post(
        f"/v1/prompts/{NAME}/versions",
        json={"template": "Hello {{name}}", "variables_schema": schema},
    )
    assert pushed.status_code == 201, pushed.text
    answer = admin.post(
        f"/v1/prompts/{NAME}/render", json={"variables": {"name": list(range(50_000))}}
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["details"]["field"] == "variables.name"
    assert "is not of type 'string'" in error["message"]
    assert len(answer.content) < 2_000


def test_render_chat_with_placeholders(admin: TestClient) -> None:
    messages = [
        {"role": "system", "content": "You help {{company}}."},
        {"type": "placeholder", "name": "history"},
        {"role": "user", "content": "{{question}}"},
    ]
    assert push(admin, messages, name="chat/bot").status_code == 201
    out = admin.post(
        "/v1/prompts/chat/bot/render",
        json={
            "variables": {"company": "Acme", "question": "Hi?"},
            "placeholders": {"history": [{"role": "assistant", "content": "{{raw}}"}]},
        },
    )
    assert out.status_code == 200, out.text
    assert out.json()["output"] == [
        {"role": "system", "content": "You help Acme."},
        {"role": "assistant", "content": "{{raw}}"},
        {"role": "user", "content": "Hi?"},
    ]


def test_listing_pages_with_a_cursor(admin: TestClient) -> None:
    for i in range(5):
        assert push(admin, f"p{i}", name=f"folder/p{i}", tags=["t"]).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "tag": "t"}
        if cursor:
            params["cursor"] = cursor
        page = admin.get("/v1/prompts", params=params).json()
        seen += [p["name"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"folder/p{i}" for i in range(5)]

    for i in range(4):
        push(admin, f"v{i}", name="many")
    first = admin.get("/v1/prompts/many/versions", params={"limit": 3}).json()
    assert [v["version"] for v in first["items"]] == [4, 3, 2]
    rest = admin.get(
        "/v1/prompts/many/versions", params={"limit": 3, "cursor": first["next_cursor"]}
    ).json()
    assert [v["version"] for v in rest["items"]] == [1] and rest["next_cursor"] is None
    assert admin.get("/v1/prompts/many/versions/2").json()["template"] == "v1"


def test_labels_rollback_history_and_diff(admin: TestClient) -> None:
    push(admin, "one")
    push(admin, "two")
    moved = admin.put(f"/v1/prompts/{NAME}/labels/production", json={"version": 2})
    assert moved.status_code == 200 and moved.json()["to_version"] == 2
    assert admin.get(f"/v1/prompts/{NAME}/labels").json() == {"labels": {"production": 2}}
    back = admin.post(f"/v1/prompts/{NAME}/labels/production/rollback")
    assert back.status_code == 200 and back.json()["to_version"] == 1
    history = admin.get(f"/v1/prompts/{NAME}/labels/production/history").json()["items"]
    assert [(e["from_version"], e["to_version"]) for e in history][:2] == [(2, 1), (1, 2)]
    diff = admin.get(f"/v1/prompts/{NAME}/diff", params={"from": "1", "to": "2"})
    assert diff.status_code == 200
    assert "-one" in diff.json()["messages"][0]["diff"]
    assert "+two" in diff.json()["messages"][0]["diff"]
    gone = admin.delete(f"/v1/prompts/{NAME}/labels/production")
    assert gone.status_code == 200
    assert admin.get(f"/v1/prompts/{NAME}/resolve").json()["error"]["code"] == "label_not_found"


def test_create_get_archive(admin: TestClient) -> None:
    made = admin.post("/v1/prompts", json={"name": "fresh", "template": "x"})
    assert made.status_code == 201
    again = admin.post("/v1/prompts", json={"name": "fresh", "template": "y"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert admin.get("/v1/prompts/fresh").json()["latest_version"] == 1
    archived = admin.delete("/v1/prompts/fresh")
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert admin.get("/v1/prompts").json()["items"] == []


def test_audit_records_the_key_name_as_actor(
    client: TestClient, keys: dict[str, str], vault: Vault
) -> None:
    client.headers.update(bearer(keys["editor"]))
    assert push(client, "x").status_code == 201
    assert client.put(f"/v1/prompts/{NAME}/labels/staging", json={"version": 1}).status_code == 200
    entries = vault.audit.entries(target=None)
    writes = [e for e in entries if not e.action.startswith("key.")]
    assert {e.actor for e in writes} == {"editor-key"}
    assert vault.get(NAME).author == "editor-key"
    admin = TestClient(client.app, headers=bearer(keys["admin"]))
    page = admin.get("/v1/audit", params={"actor": "editor-key", "limit": 1}).json()
    assert page["items"][0]["actor"] == "editor-key" and page["next_cursor"] is not None
    assert admin.post("/v1/audit/verify").json()["ok"] is True


def test_errors_have_one_shape(admin: TestClient) -> None:
    missing = admin.get("/v1/prompts/nope/resolve")
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {"code", "message", "details"}
    assert missing.json()["error"]["code"] == "prompt_not_found"

    bad_type = push(admin, "x", config={"temperature": 9})
    assert bad_type.status_code == 422
    assert "temperature" in bad_type.json()["error"]["details"]["field"]

    invalid = admin.post(f"/v1/prompts/{NAME}/versions", json={"template": "x", "syntax": "php"})
    assert invalid.status_code == 422
    assert invalid.json()["error"] == {
        "code": "invalid_input",
        "message": invalid.json()["error"]["message"],
        "details": invalid.json()["error"]["details"],
    }
    assert invalid.json()["error"]["details"]["field"] == "syntax"

    broken = push(admin, "Hello {{#open}}")
    assert broken.status_code == 422
    assert broken.json()["error"]["code"] == "template_syntax"
    assert broken.json()["error"]["details"]["line"] == 1

    unknown = admin.get("/v2/nothing")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    wrong_method = admin.patch("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_bodies_over_the_limit_get_413(admin: TestClient) -> None:
    limit = admin.app.state.settings.max_body_bytes  # type: ignore[attr-defined]
    big = b'{"template": "' + b"x" * limit + b'"}'
    declared = admin.post(
        f"/v1/prompts/{NAME}/versions", content=big, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Any:  # no Content-Length: the size is counted while streaming
        yield b'{"template": "'
        for _ in range(limit // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    streamed = admin.post(
        f"/v1/prompts/{NAME}/versions",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert streamed.status_code == 413
    assert admin.get("/v1/prompts").json()["items"] == []  # nothing was written


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "router"])
def test_fast_path_and_router_answer_resolve_alike(vault: Vault, fast: bool) -> None:
    app = create_app(vault, fast_resolve=fast)
    keys = app.state.keys
    admin_key = keys.create("admin-key", "admin")[0]
    client = TestClient(app, headers=bearer(admin_key))
    push(client, "Hello {{name}}")
    ok = client.get(f"/v1/prompts/{NAME}/resolve", params={"label": "production"})
    assert ok.status_code == 200 and ok.json()["version"] == 1
    assert ok.headers["content-type"] == "application/json"
    assert ok.headers["etag"] == f'"{ok.json()["hash"]}"'
    etag = ok.headers["etag"]
    assert (
        client.get(
            f"/v1/prompts/{NAME}/resolve", headers={"If-None-Match": f'W/"x", {etag}'}
        ).status_code
        == 304
    )
    cases = {
        "?version=abc": (422, "invalid_input"),
        "?version=0": (422, "invalid_input"),
        "?label=nope": (404, "label_not_found"),
        "?version=9": (404, "version_not_found"),
    }
    for query, (status, code) in cases.items():
        answer = client.get(f"/v1/prompts/{NAME}/resolve{query}")
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), query
    anonymous = client.get(f"/v1/prompts/{NAME}/resolve", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    runtime = keys.create("rt", "runtime")[0]
    by_header = client.get(
        f"/v1/prompts/{NAME}/resolve", headers={"X-API-Key": runtime, "Authorization": ""}
    )
    assert by_header.status_code == 200
