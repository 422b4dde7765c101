"""Bad input answers 4xx naming the field, on SQLite and PostgreSQL, never 500."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app
from promptvault.storage.tables import VersionRow

from .conftest import bearer


def nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth - 1):
        node["a"] = {}
        node = node["a"]
    return root


def invalid(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] in ("invalid_input", "label_invalid"), error
    assert error["details"]["field"] == field, error


def test_names_with_dot_segments_are_refused(admin: TestClient) -> None:
    for name in ("x/../../tmp/evil", "a/./b", "a/../b"):
        created = admin.post("/v1/prompts", json={"name": name, "template": "x"})
        invalid(created, "name")
    assert admin.get("/v1/prompts").json()["items"] == []


@pytest.mark.parametrize("selector", ["²", "٣", "99999999999", "9" * 5000])
def test_non_ascii_or_huge_versions_in_references(admin: TestClient, selector: str) -> None:
    admin.post("/v1/prompts/p/versions", json={"template": "one"})
    admin.post("/v1/prompts/p/versions", json={"template": "two"})
    invalid(admin.get("/v1/prompts/p/diff", params={"from": selector, "to": "1"}), "version")
    invalid(admin.get("/v1/prompts/p/resolve", params={"version": selector}), "version")
    assert admin.get("/v1/prompts/p/diff", params={"from": "1", "to": "2"}).status_code == 200


@pytest.mark.parametrize("selector", ["9" * 21, "9" * 5000])
def test_a_version_of_too_many_digits_is_out_of_range_not_a_non_number(
    admin: TestClient, selector: str
) -> None:
    admin.post("/v1/prompts/p/versions", json={"template": "one"})
    answer = admin.get("/v1/prompts/p/resolve", params={"version": selector})
    invalid(answer, "version")
    message = answer.json()["error"]["message"]
    assert message.startswith("version must be from 1 to 2147483647, got '999"), message
    assert len(message) < 200


@pytest.mark.parametrize("number", [2**31, 2**63, 2**64])
def test_huge_integers_in_label_versions_and_cursors(admin: TestClient, number: int) -> None:
    admin.post("/v1/prompts/p/versions", json={"template": "one"})
    invalid(admin.put("/v1/prompts/p/labels/staging", json={"version": number}), "version")
    invalid(admin.get("/v1/prompts/p/versions", params={"cursor": number}), "cursor")
    invalid(
        admin.post("/v1/prompts/p/render", json={"version": number, "variables": {}}), "version"
    )


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("message", {"template": "x", "message": "a\x00b"}),
        ("tags", {"template": "x", "tags": ["a\x00"]}),
        ("description", {"template": "x", "description": "d\x00"}),
        ("template", {"template": "lone \ud800 surrogate"}),
        ("config.model", {"template": "x", "config": {"model": "m\ud800"}}),
    ],
)
def test_text_no_database_can_store(
    admin: TestClient, vault: Vault, field: str, body: dict[str, Any]
) -> None:
    import json

    raw = json.dumps(body)  # \ud800 travels as an escape, as any JSON client sends it
    pushed = admin.post(
        "/v1/prompts/p/versions", content=raw, headers={"content-type": "application/json"}
    )
    invalid(pushed, field)
    assert vault.list_prompts() == []


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/prompts", {"search": "a\x00"}, "search"),
        ("/v1/prompts", {"cursor": "a\x00"}, "cursor"),
        ("/v1/prompts", {"tag": "a\x00"}, "tag"),
        ("/v1/prompts", {"folder": "a\x00"}, "folder"),
    ],
)
def test_nul_in_filters(admin: TestClient, path: str, params: dict[str, str], field: str) -> None:
    admin.post("/v1/prompts/p/versions", json={"template": "x"})
    invalid(admin.get(path, params=params), field)


@pytest.mark.parametrize("field", ["config", "variables_schema"])
def test_deep_json_is_refused_before_the_write(admin: TestClient, vault: Vault, field: str) -> None:
    pushed = admin.post("/v1/prompts/p/versions", json={"template": "x", field: nested(255)})
    invalid(pushed, field)
    assert pushed.json()["error"]["details"]["limit"] == "max_depth"
    assert vault.list_prompts() == []
    big = admin.post(
        "/v1/prompts/p/versions", json={"template": "x", "config": {"k": "v" * 300_000}}
    )
    invalid(big, "config")


def test_a_stored_row_too_deep_to_serialise_still_reads(database_url: str) -> None:
    with Vault(Settings(database_url=database_url)) as writer:
        writer.push("p", template="Hi {{who}}", config={"model": "m"})
        # Written around validation (an older release, or by hand).
        with writer.db.engine.begin() as conn:
            conn.execute(update(VersionRow).values(config={"model": "m", "x": nested(600)}))
    vault = Vault(Settings(database_url=database_url))
    app = create_app(vault)
    key = app.state.keys.create("admin-key", "admin", actor="setup")[0]
    with TestClient(app) as client:
        client.headers.update(bearer(key))
        got = client.get("/v1/prompts/p/resolve")
        assert got.status_code == 200, got.text
        assert got.json()["config"]["model"] == "m"
        assert client.get("/v1/prompts/p/versions").status_code == 200
        rendered = client.post("/v1/prompts/p/render", json={"variables": {"who": "Ada"}})
        assert rendered.json()["output"] == "Hi Ada"
    vault.close()


def test_example_import_reports_unusable_json_by_line(admin: TestClient, vault: Vault) -> None:
    vault.examples.create("faq", embedder="hashing")
    lines = [
        json_line({"input": "fine", "output": "ok"}),
        '{"input": "big", "output": "n", "metadata": {"n": ' + "9" * 5000 + "}}",
        '{"input": "deep", "output": "d", "metadata": ' + "[" * 5000 + "]" * 5000 + "}",
        json_line({"input": "x", "output": "y", "metadata": nested(100)}),
        json_line({"input": "nul \x00 here", "output": "y"}),
        json_line({"input": "lone \ud800", "output": "y"}),
    ]
    report = admin.post(
        "/v1/collections/faq/examples/import", json={"text": "\n".join(lines), "strict": False}
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["added"] == 1
    assert [e["line"] for e in body["errors"]] == [2, 3, 4, 5, 6]
    assert [e["field"] for e in body["errors"]][2:] == ["metadata", "input", "input"]
    assert [e.input for e in vault.examples.examples("faq")] == ["fine"]


def json_line(value: Any) -> str:
    import json

    return json.dumps(value)


@pytest.mark.parametrize("field", ["unit_id", "experiment", "metric"])
def test_nul_in_an_event_is_refused_before_the_batch(
    admin: TestClient, vault: Vault, field: str
) -> None:
    vault.push("support", template="Hello")
    event = {"type": "exposure", "experiment": "tone", "unit_id": "u1", field: "a\x00b"}
    sent = admin.post("/v1/events", json={"events": [event]})
    invalid(sent, field)


def test_nul_in_a_key_name_is_refused(admin: TestClient) -> None:
    invalid(admin.post("/v1/keys", json={"name": "k\x00", "role": "viewer"}), "name")


def test_registry_import_refuses_deep_or_unreadable_json(tmp_path: Any, vault: Vault) -> None:
    from promptvault.errors import InvalidInputError

    deep = tmp_path / "deep.json"
    deep.write_text('{"format": "promptvault/1", "prompts": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(InvalidInputError) as err:
        vault.import_(deep)
    assert err.value.details["field"] == "path"
    export = tmp_path / "export.json"
    vault.push("p", template="x")
    vault.export(export)
    import json

    data = json.loads(export.read_text())
    data["prompts"][0]["name"] = "q"
    data["prompts"][0]["versions"][0]["config"] = nested(200)
    export.write_text(json.dumps(data))
    with pytest.raises(InvalidInputError) as err:
        vault.import_(export)
    assert err.value.details["field"] == "prompts[0].versions[0].config"
    assert [s.name for s in vault.list_prompts()] == ["p"]


def test_no_query_parameter_of_any_read_route_turns_nul_into_a_500(
    admin: TestClient, vault: Vault
) -> None:
    vault.push("p", template="x")
    vault.examples.create("faq", embedder="hashing")
    spec = admin.get("/openapi.json").json()
    tried = 0
    for path, operations in spec["paths"].items():
        params = [p["name"] for p in operations.get("get", {}).get("parameters", [])]
        params = [p for p in params if p not in ("name", "label", "version", "example_id")]
        concrete = path.replace("{name}", "faq" if "collections" in path else "p")
        concrete = concrete.replace("{label}", "production").replace("{version}", "1")
        # The change stream never ends by itself: bounded here (duration=0).
        bound = {"duration": "0"} if path == "/v1/stream" else {}
        for param in params:
            got = admin.get(concrete, params={**bound, param: "a\x00b"})
            assert got.status_code < 500, (concrete, param, got.text)
            tried += 1
    assert tried >= 12
