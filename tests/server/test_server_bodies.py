"""Bad request bodies get the documented 422 with plain words; the schema declares params."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


def _json_operations(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            content = (operation.get("requestBody") or {}).get("content", {})
            if "application/json" in content:
                concrete = re.sub(r"\{[^}]+\}", "x", path)
                found.append((method.upper(), concrete))
    return found


def test_every_json_operation_answers_invalid_utf8_with_a_documented_422(
    admin: TestClient,
) -> None:
    operations = _json_operations(admin)
    assert len(operations) >= 13
    body = b'{"name": "a",\n "template": "caf\xe9"}'
    for method, path in operations:
        answer = admin.request(
            method, path, content=body, headers={"Content-Type": "application/json"}
        )
        if path.startswith("/api/public/"):  # Langfuse's routes answer as Langfuse does
            assert answer.status_code == 400, (method, path, answer.text)
            assert answer.json()["error"] == "InvalidRequestError"
            assert "line 2, column 18" in answer.json()["message"]
            continue
        assert answer.status_code == 422, (method, path, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "invalid_input"
        assert error["details"]["field"] == "body"
        assert (error["details"]["line"], error["details"]["column"]) == (2, 18)
        assert "UTF-8" in error["message"] and "line 2, column 18" in error["message"]


def test_malformed_json_names_line_and_column_in_plain_words(admin: TestClient) -> None:
    answer = admin.post(
        "/v1/prompts/a/versions",
        content=b'{\n  "template": "hi",\n  "message": \n}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["details"]["field"] == "body"
    assert (error["details"]["line"], error["details"]["column"]) == (4, 1)
    assert error["message"] == (
        "the request body is not valid JSON: Expecting value at line 4, column 1"
    )


@pytest.mark.parametrize(
    ("content", "content_type", "expected"),
    [
        (
            b"template=hi",
            "application/x-www-form-urlencoded",
            "got application/x-www-form-urlencoded",
        ),
        (b'{"template": "hi"}', "text/plain", "got text/plain"),
        (b"[1, 2]", "application/json", "must be a JSON object, not an array"),
        (b"", "application/json", "the request body is empty"),
    ],
)
def test_a_body_that_is_not_a_json_object_says_what_was_sent(
    admin: TestClient, content: bytes, content_type: str, expected: str
) -> None:
    answer = admin.post(
        "/v1/prompts/a/versions", content=content, headers={"Content-Type": content_type}
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_input" and error["details"]["field"] == "body"
    assert expected in error["message"], error["message"]
    assert "dictionary" not in error["message"]


def test_every_operation_declares_its_path_parameters(client: TestClient) -> None:
    spec: dict[str, Any] = client.get("/openapi.json").json()
    missing = []
    for path, item in spec["paths"].items():
        wanted = set(re.findall(r"\{([^}:]+)", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            if wanted - declared:
                missing.append((method, path, sorted(wanted - declared)))
    assert missing == []


def _push_support(admin: TestClient) -> None:
    created = admin.post(
        "/v1/prompts",
        json={"name": "support", "template": "Hello {{name}}", "labels": ["production"]},
    )
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("action", ["render", "build"])
def test_a_lone_surrogate_in_variables_is_invalid_input_naming_the_field(
    admin: TestClient, action: str
) -> None:
    _push_support(admin)
    answer = admin.post(
        f"/v1/prompts/support/{action}",
        content=b'{"variables": {"name": "a\\ud800"}}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["details"]["field"] == "variables.name"
    assert "lone surrogate" in error["message"]


def test_a_lone_surrogate_in_a_chat_history_item_names_its_position(admin: TestClient) -> None:
    _push_support(admin)
    answer = admin.post(
        "/v1/prompts/support/build",
        content=b'{"variables": {"name": "a"}, '
        b'"history": [{"role": "user", "content": "\\udfff"}]}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"]["field"] == "history.0.content"


def test_a_body_nested_too_deeply_to_parse_is_a_422_naming_the_body(admin: TestClient) -> None:
    deep = b'{"variables": {"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    answer = admin.post(
        "/v1/prompts/support/render",
        content=deep,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["details"] == {"field": "body", "reason": "too_deep"}


def test_an_integer_past_the_digit_limit_is_a_422_naming_the_body(admin: TestClient) -> None:
    answer = admin.post(
        "/v1/prompts/support/render",
        content=b'{"version": 1' + b"0" * 5000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["details"]["field"] == "body"
    assert "digits" in error["message"] and "sys." not in error["message"]
