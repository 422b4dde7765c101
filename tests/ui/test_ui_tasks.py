"""Tasks without the CLI: archive, a new label from the promote dropdown, the first save's
labels, API key management; each with the API's permission checks, per role."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from httpx import Response
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.errors import PromptNotFound

from .conftest import csrf_of

AsRole = Callable[[str], TestClient]


def _token(client: TestClient, url: str = "/") -> str:
    return csrf_of(client.get(url).text)


@pytest.mark.parametrize(
    ("role", "allowed"), [("viewer", False), ("editor", True), ("admin", True)]
)
def test_archive_and_unarchive_per_role(
    vault: Vault, as_role: AsRole, role: str, allowed: bool
) -> None:
    vault.push("old/one", template="hi")
    client = as_role(role)
    page = client.get("/prompts/old/one")
    assert ('action="/archive/old/one"' in page.text) is allowed
    token = _token(client)
    done = client.post("/archive/old/one", data={"csrf": token}, follow_redirects=False)
    if not allowed:
        assert done.status_code == 403
        assert not vault.get_prompt("old/one").archived
        return
    assert done.status_code == 303
    assert vault.get_prompt("old/one").archived
    shown = client.get("/prompts/old/one").text
    assert "Unarchive" in shown and "archived" in shown
    assert "old/one" not in client.get("/").text
    client.post("/archive/old/one", data={"csrf": token, "undo": "1"})
    assert not vault.get_prompt("old/one").archived
    actions = [e.action for e in vault.audit.entries(target="prompt:old/one")]
    assert "prompt.archive" in actions and "prompt.unarchive" in actions


def test_promote_dropdown_creates_a_new_label(vault: Vault, as_role: AsRole) -> None:
    vault.push("p", template="one")
    vault.push("p", template="two")
    editor = as_role("editor")
    page = editor.get("/prompts/p")
    assert '<option value="+new">New label…</option>' in page.text
    ask = editor.get("/promote/p?version=2&label=%2Bnew")
    assert ask.status_code == 200 and 'name="new_label"' in ask.text
    bad = editor.get("/promote/p?version=2&label=%2Bnew&new_label=Not+Valid")
    assert bad.status_code == 422
    confirm = editor.get("/promote/p?version=2&label=%2Bnew&new_label=canary")
    assert "Point canary at version 2?" in confirm.text
    assert "will be created" in confirm.text
    moved = editor.post(
        "/promote/p", data={"csrf": csrf_of(confirm.text), "label": "canary", "version": "2"}
    )
    assert "canary now points at version 2" in moved.text
    assert vault.labels("p") == {"production": 1, "canary": 2}
    # Protected labels stay the admin's, whatever the dropdown sends.
    refused = editor.get("/promote/p?version=2&label=%2Bnew&new_label=production")
    assert refused.status_code == 403


def _new_prompt(client: TestClient, name: str, **labels: str | list[str]) -> int:
    return _save_new(client, name, **labels).status_code


def _save_new(client: TestClient, name: str, **labels: str | list[str]) -> Response:
    token = _token(client, "/new")
    data: dict[str, str | list[str]] = {
        "csrf": token,
        "name": name,
        "type": "text",
        "syntax": "mustache",
        "template": "Hello {{who}}",
        "message": "first",
        "first_labels_shown": "1",
        **labels,
    }
    return client.post("/new", data=data, follow_redirects=False)


def test_first_save_chooses_its_labels(vault: Vault, as_role: AsRole) -> None:
    editor = as_role("editor")
    form = editor.get("/new").text
    assert re.search(r'name="first_label" value="production" checked', form)
    assert _new_prompt(editor, "a/default", first_label="production") == 303
    assert vault.labels("a/default") == {"production": 1}
    assert _new_prompt(editor, "a/staged", first_label="staging", first_label_other="eu") == 303
    assert vault.labels("a/staged") == {"staging": 1, "eu": 1}
    assert _new_prompt(editor, "a/none") == 303  # nothing ticked: no label at all
    assert vault.labels("a/none") == {}
    assert _new_prompt(editor, "a/bad", first_label_other="Bad Label") == 422
    with pytest.raises(PromptNotFound):
        vault.get_prompt("a/bad")


def test_first_save_cannot_name_another_protected_label(vault: Vault, app: FastAPI) -> None:
    app.state.settings.protected_labels = ["production", "live"]
    keys = app.state.keys
    plaintext, _ = keys.create("ed", "editor", actor="setup")
    from .conftest import sign_in

    with TestClient(app) as client:
        sign_in(client, plaintext)
        refused = _save_new(client, "b/live", first_label_other="live")
        assert refused.status_code == 422 and "is protected" in refused.text
        with pytest.raises(PromptNotFound):
            vault.get_prompt("b/live")
        assert _new_prompt(client, "b/prod", first_label="production") == 303
    assert vault.labels("b/prod") == {"production": 1}


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_key_pages_are_for_admins_only(as_role: AsRole, role: str) -> None:
    client = as_role(role)
    assert client.get("/keys").status_code == 403
    assert 'href="/keys"' not in client.get("/").text
    token = _token(client)
    refused = client.post("/keys", data={"csrf": token, "name": "x", "role": "admin"})
    assert refused.status_code == 403
    for action in ("rotate", "revoke"):
        assert client.post(f"/keys/{action}", data={"csrf": token, "key": "x"}).status_code == 403


def test_admin_creates_rotates_and_revokes_keys(app: FastAPI, as_role: AsRole) -> None:
    admin = as_role("admin")
    page = admin.get("/keys")
    assert page.status_code == 200 and "viewer-key" in page.text
    token = csrf_of(page.text)
    created = admin.post(
        "/keys", data={"csrf": token, "name": "checkout", "role": "runtime", "expires_days": "30"}
    )
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-key-secret">(pv_[^<]+)<', created.text)
    assert secret, created.text
    keys = app.state.keys
    assert keys.authenticate(secret.group(1)).name == "checkout"
    assert secret.group(1) not in admin.get("/keys").text  # shown once
    record = next(k for k in keys.list() if k.name == "checkout")
    assert record.expires_at is not None
    rotated = admin.post("/keys/rotate", data={"csrf": token, "key": record.id})
    new_secret = re.search(r'id="new-key-secret">(pv_[^<]+)<', rotated.text)
    assert new_secret and new_secret.group(1) != secret.group(1)
    assert "rotating" in rotated.text
    revoked = admin.post("/keys/revoke", data={"csrf": token, "key": "checkout"})
    assert "Key checkout" in revoked.text and "revoked" in revoked.text
    assert all(k.name != "checkout" for k in keys.list())
    duplicate = admin.post("/keys", data={"csrf": token, "name": "viewer-key", "role": "viewer"})
    assert duplicate.status_code == 409
    bad_role = admin.post("/keys", data={"csrf": token, "name": "z", "role": "root"})
    assert bad_role.status_code == 422
