"""Webhooks through the HTTP API (a real server whose dispatcher delivers) and the CLI
(local database and --server)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from standardwebhooks import Webhook as Verifier
from tests.waiting import wait_until
from typer.testing import CliRunner

from promptvault import Vault
from promptvault.server.app import create_app

from .conftest import FAST, fast_settings
from .receiver import Receiver


@pytest.fixture
def server(sqlite_url: str, home: Path) -> Iterator[tuple[str, str, Vault]]:
    """A real uvicorn server (dispatcher included) in a thread, its URL and an admin key."""
    vault = Vault(fast_settings(sqlite_url, home))
    vault.push("team/support", template="v1", author="setup")
    vault.push("team/support", template="v2", author="setup")
    app = create_app(vault)
    key = app.state.keys.create("ops", "admin", actor="setup")[0]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", key, vault
    finally:
        srv.should_exit = True
        thread.join(10)
        vault.close()


def test_api_subscribe_deliver_and_manage(server: tuple[str, str, Vault], sink: Receiver) -> None:
    base, key, vault = server
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"})
    refused = api.post("/v1/webhooks", json={"url": "http://169.254.169.254/latest"})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "url_refused"
    assert refused.json()["error"]["details"]["field"] == "url"
    created = api.post("/v1/webhooks", json={"url": sink.url, "event_types": ["label.moved"]})
    assert created.status_code == 201, created.text
    secret, hook = created.json()["secret"], created.json()["webhook"]
    assert "secret" not in hook
    moved = api.put("/v1/prompts/team/support/labels/production", json={"version": 2})
    assert moved.status_code == 200
    wait_until(lambda: len(sink.requests) == 1, what="the label move delivered")
    payload = Verifier(secret).verify(sink.requests[0].body, sink.requests[0].headers)
    assert payload["type"] == "label.moved"
    assert (payload["data"]["old_version"], payload["data"]["new_version"]) == (1, 2)
    assert payload["data"]["actor"] == "ops"
    listed = api.get("/v1/webhooks").json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in json.dumps(listed)
    # The log entry is written after the answer arrived, with others in a batch.
    wait_until(
        lambda: api.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"],
        what="the delivery logged",
    )
    log = api.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]
    assert log[0]["ok"] and log[0]["status_code"] == 200
    again = api.post(f"/v1/webhooks/{hook['id']}/deliveries/{log[0]['id']}/redeliver")
    assert again.json()["trigger"] == "redeliver" and sink.ids()[-1] == sink.ids()[0]
    assert api.post(f"/v1/webhooks/{hook['id']}/disable").json()["enabled"] is False
    assert api.post(f"/v1/webhooks/{hook['id']}/enable").json()["enabled"] is True
    assert api.post(f"/v1/webhooks/{hook['id']}/test").json()["ok"] is True
    assert api.delete(f"/v1/webhooks/{hook['id']}").status_code == 200
    gone = api.get(f"/v1/webhooks/{hook['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "webhook_not_found"
    actions = [e.action for e in vault.audit.entries(action="webhook.")]
    assert actions == [
        "webhook.create",
        "webhook.redeliver",
        "webhook.disable",
        "webhook.enable",
        "webhook.test",
        "webhook.remove",
    ]
    assert all(e.actor == "ops" for e in vault.audit.entries(action="webhook."))


def _run(args: list[str]) -> Any:
    from promptvault.cli import app

    return CliRunner().invoke(app, args, catch_exceptions=False)


@pytest.mark.parametrize("mode", ["local", "server"])
def test_cli_commands(
    mode: str,
    server: tuple[str, str, Vault],
    sink: Receiver,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, key, vault = server
    monkeypatch.setenv("PROMPTVAULT_ACTOR", "tester")
    for name, value in FAST.items():
        monkeypatch.setenv(f"PROMPTVAULT_{name.upper()}", json.dumps(value))
    if mode == "server":
        monkeypatch.setenv("PROMPTVAULT_URL", base)
        monkeypatch.setenv("PROMPTVAULT_API_KEY", key)
    else:
        monkeypatch.setenv("PROMPTVAULT_DATABASE_URL", sqlite_url)
    added = _run(["webhooks", "add", sink.url, "-e", "label.*", "--prefix", "team/", "--json"])
    assert added.exit_code == 0, added.output
    hook = json.loads(added.stdout)["webhook"]
    assert json.loads(added.stdout)["secret"].startswith("whsec_")
    assert hook["event_types"] == ["label.*"] and hook["prompt_prefix"] == "team/"
    listing = _run(["webhooks", "list"])
    assert hook["id"] in listing.stdout and "label.*" in listing.stdout
    tested = _run(["webhooks", "test", hook["id"]])
    assert tested.exit_code == 0 and sink.requests[-1].json["type"] == "webhook.test"
    vault.set_label("team/support", "canary", 2, actor="alice")
    wait_until(lambda: len(sink.requests) == 2, what="the move delivered by the server")
    wait_until(lambda: len(vault.webhooks.deliveries(hook["id"])) == 2, what="it logged")
    shown = json.loads(_run(["webhooks", "deliveries", hook["id"], "--json"]).stdout)
    assert [d["trigger"] for d in shown] == ["dispatch", "test"]
    redone = _run(["webhooks", "redeliver", hook["id"], str(shown[0]["id"])])
    assert redone.exit_code == 0 and sink.ids()[-1] == sink.ids()[-2]
    assert "disabled" in _run(["webhooks", "disable", hook["id"]]).output
    assert "enabled" in _run(["webhooks", "enable", hook["id"]]).output
    assert "removed" in _run(["webhooks", "remove", hook["id"]]).output
    missing = _run(["webhooks", "remove", hook["id"]])
    assert missing.exit_code != 0 and "no webhook" in missing.output
    who = "ops" if mode == "server" else "tester"
    assert vault.audit.entries(action="webhook.create")[-1].actor == who
