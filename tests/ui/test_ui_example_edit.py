"""Collections and examples changed from the web UI, with the API's permission per role."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.errors import CollectionNotFound

from .conftest import csrf_of

AsRole = Callable[[str], TestClient]


def _token(client: TestClient) -> str:
    return csrf_of(client.get("/examples").text)


def test_editor_creates_adds_edits_deletes_and_imports(vault: Vault, as_role: AsRole) -> None:
    vault.push("support/answer", template="{{question}}")
    editor = as_role("editor")
    listing = editor.get("/examples").text
    assert 'action="/examples"' in listing
    assert re.search(r'<option value="minilm" selected>', listing)  # the real one, installed
    token = csrf_of(listing)
    made = editor.post(
        "/examples",
        data={
            "csrf": token,
            "name": "replies",
            "embedder": "hashing",
            "prompt": "support/answer",
            "query_template": "{{question}}",
            "strategy": "semantic",
            "k": "2",
        },
    )
    assert made.status_code == 200 and "Created collection replies" in made.text
    assert "Switch to minilm" in made.text  # hashing: the better embedder is offered
    assert "word overlap" in made.text
    collection = vault.examples.get("replies")
    assert (collection.prompt, collection.k, collection.embedder) == (
        "support/answer",
        2,
        "hashing",
    )
    added = editor.post(
        "/examples/replies/add",
        data={"csrf": token, "input": "Where is it?", "output": "On its way.", "quality": "0.8"},
    )
    assert "Added example #" in added.text
    (example,) = vault.examples.examples("replies")
    assert example.quality == 0.8
    assert vault.audit.entries(target="collection:replies")[0].actor == "editor-key"
    form = editor.get(f"/examples/replies/examples/{example.id}")
    assert "Where is it?" in form.text
    editor.post(
        f"/examples/replies/examples/{example.id}",
        data={"csrf": token, "input": "Where is my parcel?", "output": "On its way.",
              "category": "shipping", "quality": "0.9"},
    )  # fmt: skip
    (example,) = vault.examples.examples("replies")
    assert (example.input, example.category, example.quality) == (
        "Where is my parcel?",
        "shipping",
        0.9,
    )
    bad = editor.post(
        "/examples/replies/add", data={"csrf": token, "input": "x", "output": "y", "quality": "2"}
    )
    assert bad.status_code == 422 and "quality must be a number from 0 to 1" in bad.text
    jsonl = (
        '{"input": "I want a refund", "output": "Refunds take 5 days."}\n'
        "{not json\n"
        '{"input": "Reset password?", "output": "Use the link."}\n'
    )
    imported = editor.post(
        "/examples/replies/import",
        data={"csrf": token},
        files={"file": ("rows.jsonl", jsonl.encode(), "application/x-ndjson")},
    )
    assert imported.status_code == 200
    assert "2 of 3 rows imported; 1 refused" in imported.text
    assert re.search(r'<td class="num">2</td>', imported.text)  # the bad line is named
    assert vault.examples.get("replies").size == 3
    deleted = editor.post(
        f"/examples/replies/examples/{example.id}", data={"csrf": token, "delete": "1"}
    )
    assert f"Deleted example #{example.id}" in deleted.text
    assert vault.examples.get("replies").size == 2
    wrong = editor.post("/examples/replies/delete", data={"csrf": token, "confirm": "nope"})
    assert wrong.status_code == 422 and vault.examples.get("replies").size == 2
    editor.post("/examples/replies/delete", data={"csrf": token, "confirm": "replies"})
    with pytest.raises(CollectionNotFound):
        vault.examples.get("replies")
    actions = {e.action for e in vault.audit.entries(target="collection:replies")}
    assert {"collection.create", "collection.delete"} <= actions


def test_import_refuses_a_file_that_is_not_text(vault: Vault, as_role: AsRole) -> None:
    vault.examples.create("bin")
    editor = as_role("editor")
    token = _token(editor)
    refused = editor.post(
        "/examples/bin/import",
        data={"csrf": token},
        files={"file": ("rows.jsonl", b"\xff\xfe\x00bad", "application/octet-stream")},
    )
    assert refused.status_code == 422 and "not UTF-8" in refused.text
    nothing = editor.post("/examples/bin/import", data={"csrf": token})
    assert nothing.status_code == 422 and "choose a .jsonl or .csv file" in nothing.text


def test_viewer_sees_no_forms_and_every_change_is_refused(vault: Vault, as_role: AsRole) -> None:
    vault.examples.create("ro")
    added = vault.examples.add("ro", "in", "out")
    viewer = as_role("viewer")
    page = viewer.get("/examples/ro").text
    assert "Add an example" not in page and "Switch to" not in page and "Edit" not in page
    assert "an editor can switch" in page  # told which embedder would be better
    assert 'action="/examples"' not in viewer.get("/examples").text
    token = _token(viewer)
    attempts = {
        "/examples": {"name": "new"},
        "/examples/ro/add": {"input": "a", "output": "b"},
        f"/examples/ro/examples/{added.id}": {"input": "a", "output": "b"},
        "/examples/ro/embedder": {"embedder": "hashing"},
        "/examples/ro/delete": {"confirm": "ro"},
    }
    for url, data in attempts.items():
        assert viewer.post(url, data={"csrf": token, **data}).status_code == 403, url
    files = {"file": ("a.jsonl", b'{"input": "a", "output": "b"}\n', "text/plain")}
    assert viewer.post("/examples/ro/import", data={"csrf": token}, files=files).status_code == 403
    assert viewer.get(f"/examples/ro/examples/{added.id}").status_code == 403
    assert vault.examples.get("ro").size == 1
