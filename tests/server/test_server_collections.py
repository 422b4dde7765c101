"""Collections, examples and build over HTTP (in-process ASGI, SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import json

import numpy as np
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.builder import BuiltRequest

from .conftest import bearer

ROWS = [
    {"input": "How do I get a refund?", "output": "Refunds take 5 days.", "category": "billing"},
    {"input": "Where is my parcel?", "output": "Track it online.", "category": "shipping"},
    {"input": "I forgot my password", "output": "Use the reset link.", "category": "account"},
]


def test_collection_lifecycle_and_build(
    client: TestClient, vault: Vault, keys: dict[str, str]
) -> None:
    editor, runtime, viewer = (
        bearer(keys["editor"]),
        bearer(keys["runtime"]),
        bearer(keys["viewer"]),
    )
    vault.push(
        "team/support",
        template=[
            {"role": "system", "content": "Help {{company}}."},
            {"role": "user", "content": "{{question}}"},
        ],
        config={"model": "gpt-4o"},
    )
    r = client.post(
        "/v1/collections",
        json={"name": "faq", "prompt": "team/support", "query_template": "{{question}}", "k": 1},
        headers=editor,
    )
    assert r.status_code == 201 and r.json()["prompt"] == "team/support"
    r = client.post("/v1/collections/faq/examples", json={"examples": ROWS}, headers=editor)
    assert r.status_code == 201 and [e["input"] for e in r.json()] == [x["input"] for x in ROWS]
    ids = [e["id"] for e in r.json()]

    r = client.post(
        "/v1/prompts/team/support/build",
        json={"variables": {"company": "Acme", "question": "refund please"}, "examples": {}},
        headers=runtime,
    )
    assert r.status_code == 200, r.text
    req = BuiltRequest.from_dict(r.json())
    assert req.metadata.example_ids == [ids[0]] and req.metadata.collection == "faq"
    assert [m["role"] for m in req.messages] == ["system", "user", "assistant", "user"]
    assert req.to_openai()["model"] == "gpt-4o"

    r = client.get("/v1/collections/faq/examples/search?q=parcel&k=1", headers=viewer)
    assert r.status_code == 200 and r.json()[0]["example"]["id"] == ids[1]
    r = client.get("/v1/collections/faq/examples?limit=2", headers=viewer)
    page = r.json()
    assert [e["id"] for e in page["items"]] == ids[:2] and page["next_cursor"] == str(ids[1])
    r = client.get(f"/v1/collections/faq/examples?cursor={page['next_cursor']}", headers=viewer)
    assert [e["id"] for e in r.json()["items"]] == ids[2:]

    text = "\n".join([json.dumps({"input": "Cancel", "output": "Done."}), "{oops"])
    r = client.post(
        "/v1/collections/faq/examples/import", json={"text": text, "strict": True}, headers=editor
    )
    assert r.status_code == 422 and r.json()["error"]["details"]["line"] == 2
    r = client.post("/v1/collections/faq/examples/import", json={"text": text}, headers=editor)
    assert r.json()["added"] == 1 and r.json()["errors"][0]["line"] == 2

    r = client.delete(f"/v1/collections/faq/examples/{ids[2]}", headers=editor)
    assert r.json() == {"deleted": 1}
    r = client.patch("/v1/collections/faq", json={"prompt": None, "k": 2}, headers=editor)
    assert r.json()["prompt"] is None and r.json()["k"] == 2 and r.json()["size"] == 3
    assert vault.audit.entries(target="collection:faq")[-1].actor == "editor-key"


def test_vectors_endpoint_and_etag(client: TestClient, vault: Vault, keys: dict[str, str]) -> None:
    runtime = bearer(keys["runtime"])
    vault.examples.create("faq")
    vault.examples.add_many("faq", ROWS)
    r = client.get("/v1/collections/faq/vectors", headers=runtime)
    assert r.status_code == 200
    body = r.json()
    matrix = np.frombuffer(base64.b64decode(body["vectors"]), dtype="<f4").reshape(3, body["dim"])
    np.testing.assert_allclose(matrix, vault.examples.cache.get("faq").index.matrix)
    assert [e["input"] for e in body["examples"]] == [x["input"] for x in ROWS]
    etag = r.headers["etag"]
    again = client.get("/v1/collections/faq/vectors", headers={**runtime, "If-None-Match": etag})
    assert again.status_code == 304
    vault.examples.add("faq", "new", "one")
    changed = client.get("/v1/collections/faq/vectors", headers={**runtime, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["revision"] == body["revision"] + 1


def test_errors_over_http(client: TestClient, vault: Vault, keys: dict[str, str]) -> None:
    runtime, editor = bearer(keys["runtime"]), bearer(keys["editor"])
    vault.push("p", template="Q: {{question}}")
    vault.examples.create("faq")
    r = client.post(
        "/v1/prompts/p/build", json={"examples": {"collection": "nope"}}, headers=runtime
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "collection_not_found"
    r = client.post(
        "/v1/prompts/p/build",
        json={"variables": {"question": "x"}, "examples": {"collection": "faq", "k": -1}},
        headers=runtime,
    )
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "examples.k"
    r = client.post(
        "/v1/prompts/p/build",
        json={"variables": {}, "examples": {"collection": "faq", "query": "{{question}}"}},
        headers=runtime,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "missing_variables"
    r = client.post(
        "/v1/prompts/p/build",
        json={"variables": {"question": "x"}, "examples": {"collection": "faq", "k": 2}},
        headers=runtime,
    )
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "examples.query"
    r = client.post(
        "/v1/prompts/p/build",
        json={"variables": {"question": "x"}, "examples": {"collection": "faq", "query": "{{q}}"}},
        headers=runtime,
    )
    assert r.status_code == 422  # the query template reads a variable that is not there
    r = client.post(
        "/v1/prompts/p/build",
        json={
            "variables": {"question": "x"},
            "examples": {"collection": "faq", "strategy": "quality"},
        },
        headers=runtime,
    )
    assert r.json()["metadata"]["examples_reason"] == "collection 'faq' is empty"
    r = client.post("/v1/collections", json={"name": "faq"}, headers=editor)
    assert r.status_code == 409
    r = client.get("/v1/collections/missing", headers=editor)
    assert r.status_code == 404 and r.json()["error"]["code"] == "collection_not_found"
