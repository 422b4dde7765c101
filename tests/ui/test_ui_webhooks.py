"""The webhooks page: admins list, add (secret shown once), disable/enable, see deliveries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from tests.webhooks.receiver import Receiver, receiver

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app

from .conftest import csrf_of


@pytest.fixture
def sink() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def vault(sqlite_url: str, home: Path) -> Iterator[Vault]:
    v = Vault(Settings(database_url=sqlite_url, webhook_allow_networks=["127.0.0.0/8"], home=home))
    yield v
    v.close()


@pytest.fixture
def app(vault: Vault) -> FastAPI:
    return create_app(vault)


def test_admin_manages_webhooks(as_role: Any, vault: Vault, sink: Receiver) -> None:
    admin = as_role("admin")
    listing = admin.get("/webhooks")
    assert listing.status_code == 200 and "No webhooks yet" in listing.text
    assert 'href="/webhooks"' in listing.text
    refused = admin.post(
        "/webhooks", data={"url": "http://10.0.0.1/x", "csrf": csrf_of(listing.text)}
    )
    assert refused.status_code == 422 and "10.0.0.1 is a private address" in refused.text
    added = admin.post(
        "/webhooks",
        data={"url": sink.url, "events": "label.moved, experiment.*", "format": "slack",
              "csrf": csrf_of(listing.text)},
    )  # fmt: skip
    assert added.status_code == 200
    secret = re.search(r'<code id="secret" class="break">(whsec_[^<]+)</code>', added.text)
    assert secret is not None
    hook = vault.webhooks.list()[0]
    assert hook.event_types == ["label.moved", "experiment.*"] and hook.format == "slack"
    again = admin.get("/webhooks")
    assert secret.group(1) not in again.text  # shown once
    off = admin.post(f"/webhooks/{hook.id}/disable", data={"csrf": csrf_of(again.text)})
    assert off.status_code == 200 and "disabled" in off.text
    assert not vault.webhooks.get(hook.id).enabled
    admin.post(f"/webhooks/{hook.id}/enable", data={"csrf": csrf_of(off.text)})
    assert vault.webhooks.get(hook.id).enabled
    vault.webhooks.test(hook.id, actor="admin")
    detail = admin.get(f"/webhooks/{hook.id}")
    assert detail.status_code == 200 and "webhook.test" in detail.text and "200" in detail.text


def test_only_admins_see_webhooks(as_role: Any) -> None:
    editor = as_role("editor")
    assert editor.get("/webhooks").status_code == 403
    assert 'href="/webhooks"' not in editor.get("/").text
    page = editor.get("/")
    denied = editor.post(
        "/webhooks", data={"url": "http://127.0.0.1:9/", "csrf": csrf_of(page.text)}
    )
    assert denied.status_code == 403
