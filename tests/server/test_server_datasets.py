"""Datasets over HTTP: versions, import errors by line, export, audit actor = key name."""

from __future__ import annotations

from starlette.testclient import TestClient

from promptvault import Vault


def test_dataset_lifecycle_over_http(admin: TestClient, vault: Vault) -> None:
    made = admin.post(
        "/v1/datasets",
        json={"name": "qa", "cases": [{"key": "a", "variables": {"q": "1"}, "expected": "A"}]},
    )
    assert made.status_code == 201 and made.json()["version"] == 1
    added = admin.post("/v1/datasets/qa/cases", json={"cases": [{"variables": {"q": "2"}}]})
    assert added.json()["version"] == 2 and added.json()["added"] == 1
    edited = admin.put("/v1/datasets/qa/cases/a", json={"variables": {"q": "one"}})
    assert edited.json()["version"] == 3
    bad = admin.post(
        "/v1/datasets/qa/import",
        json={"content": '{"variables": {"q": "x"}}\n{"variables": []}\n'},
    )
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["details"]["line"] == 2 and error["details"]["field"] == "variables"
    partial = admin.post(
        "/v1/datasets/qa/import",
        json={"content": '{"variables": {"q": "x"}}\n{"variables": []}\n', "partial": True},
    )
    assert partial.json()["added"] == 1 and partial.json()["skipped"][0]["line"] == 2
    unknown = admin.post("/v1/datasets/qa/cases/delete", json={"keys": ["a", "nope"]})
    assert unknown.status_code == 422 and unknown.json()["error"]["details"]["key"] == "nope"
    assert admin.get("/v1/datasets/qa").json()["version"] == 4  # nothing removed
    assert admin.delete("/v1/datasets/qa/cases/a").json()["removed"] == 1
    v1 = admin.get("/v1/datasets/qa/cases?version=1").json()["items"]
    assert [c["variables"] for c in v1] == [{"q": "1"}]
    csv = admin.get("/v1/datasets/qa/export?format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "key,q,expected,tags"
    assert admin.get("/v1/datasets/nope").json()["error"]["code"] == "dataset_not_found"
    actors = {e.actor for e in vault.audit.entries() if e.target == "dataset:qa"}
    assert actors == {"admin-key"}


def test_several_cases_leave_in_one_version(admin: TestClient) -> None:
    cases = [{"key": k, "variables": {"q": k}} for k in ("a", "b", "c")]
    assert admin.post("/v1/datasets", json={"name": "qa", "cases": cases}).status_code == 201
    removed = admin.post("/v1/datasets/qa/cases/delete", json={"keys": ["a", "c"]})
    assert removed.status_code == 200
    assert (removed.json()["removed"], removed.json()["version"]) == (2, 2)
    assert [c["key"] for c in admin.get("/v1/datasets/qa/cases").json()["items"]] == ["b"]
    empty = admin.post("/v1/datasets/qa/cases/delete", json={"keys": []})
    assert empty.status_code == 422 and empty.json()["error"]["details"]["field"] == "keys"
