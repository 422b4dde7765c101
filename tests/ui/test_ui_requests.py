"""Four-eyes approval in the web UI: promote makes a request, another person approves it."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from starlette.testclient import TestClient

from promptvault import Vault

from .conftest import csrf_of, sign_in

AsRole = Callable[[str], TestClient]


def _second_admin(app: FastAPI) -> TestClient:
    key = app.state.keys.create("bob", "admin", actor="setup")[0]
    client = TestClient(app)
    client.__enter__()
    return sign_in(client, key)


def test_editor_promote_becomes_a_request_that_another_admin_approves(
    vault: Vault, app: FastAPI, as_role: AsRole
) -> None:
    app.state.settings.approval_labels = ["production"]
    vault.push("faq", template="Hello there", message="one")
    vault.push("faq", template="Hello dear customer", message="two")
    editor = as_role("editor")
    page = editor.get("/prompts/faq")
    assert '<option value="production"' in page.text  # offered: it asks for approval
    confirm = editor.get("/promote/faq?version=2&label=production")
    assert "needs a second person" in confirm.text and "<mark>dear customer</mark>" in confirm.text
    made = editor.post(
        "/promote/faq",
        data={"csrf": csrf_of(confirm.text), "label": "production", "version": "2",
              "comment": "friendlier <b>greeting</b>"},
    )  # fmt: skip
    assert made.status_code == 200 and "Change request #1 made" in made.text
    assert "friendlier &lt;b&gt;greeting&lt;/b&gt;" in made.text
    assert vault.labels("faq") == {"production": 1}
    assert "Approve and move" not in made.text  # an editor cannot approve
    token = csrf_of(made.text)
    assert editor.post("/requests/1/approve", data={"csrf": token}).status_code == 403
    queue = as_role("viewer").get("/requests").text
    assert re.search(r'href="/requests/1">#1</a>', queue)
    assert "Waiting for approval" in as_role("viewer").get("/prompts/faq").text
    commented = editor.post(
        "/requests/1/comment", data={"csrf": token, "body": "tested in staging"}
    )
    assert "tested in staging" in commented.text
    bob = _second_admin(app)
    shown = bob.get("/requests/1").text
    assert "Approve and move production to v2" in shown
    approved = bob.post("/requests/1/approve", data={"csrf": csrf_of(shown), "comment": "ok"})
    assert "Approved: production of faq now points at version 2" in approved.text
    assert vault.labels("faq") == {"production": 2}
    assert 'id="request-status">approved' in approved.text
    actions = [e.action for e in vault.audit.entries(target="prompt:faq")]
    assert {"request.create", "request.approve", "comment.add"} <= set(actions)
    bob.__exit__(None, None, None)


def test_an_admin_cannot_approve_their_own_request_and_rollback_needs_one(
    vault: Vault, app: FastAPI, as_role: AsRole
) -> None:
    app.state.settings.approval_labels = ["production"]
    vault.push("faq", template="one")
    vault.push("faq", template="two")
    admin = as_role("admin")
    confirm = admin.get("/promote/faq?version=2&label=production")
    token = csrf_of(confirm.text)
    admin.post("/promote/faq", data={"csrf": token, "label": "production", "version": "2"})
    mine = admin.get("/requests/1").text
    assert "You made this request" in mine and "Approve and move" not in mine
    refused = admin.post("/requests/1/approve", data={"csrf": token})
    assert refused.status_code == 403 and "another person must approve" in refused.text
    assert vault.labels("faq") == {"production": 1}
    rejected = admin.post("/requests/1/reject", data={"csrf": token, "comment": "not yet"})
    assert "nothing moved" in rejected.text and "not yet" in rejected.text
    vault.set_label("faq", "production", 2)  # the library is not the server
    rollback = admin.get("/rollback/faq?label=production")
    assert rollback.status_code == 409 and "approval_required" in rollback.text


def test_comments_on_a_version_per_role(vault: Vault, as_role: AsRole) -> None:
    vault.push("faq", template="one")
    editor = as_role("editor")
    page = editor.get("/prompts/faq")
    added = editor.post(
        "/comments/faq",
        data={"csrf": csrf_of(page.text), "version": "1", "body": "why <i>one</i>?"},
    )
    assert added.status_code == 200 and "why &lt;i&gt;one&lt;/i&gt;?" in added.text
    viewer = as_role("viewer")
    seen = viewer.get("/prompts/faq").text
    assert "why &lt;i&gt;one&lt;/i&gt;?" in seen and 'name="body"' not in seen
    forged = viewer.post("/comments/faq", data={"csrf": csrf_of(seen), "version": "1", "body": "x"})
    assert forged.status_code == 403
    assert [c.body for c in vault.requests.comments("faq", version=1)] == ["why <i>one</i>?"]
