"""``promptvault keys``: expiry, rotation with a grace period, last use in the listing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from promptvault import Vault
from promptvault.registry.keys import KeyService


def test_create_with_expiry_rotate_and_list(cli: Any) -> None:
    created = cli("keys", "create", "ci", "--role", "editor", "--expires", "30d", "--json")
    assert created.exit_code == 0, created.output
    record = json.loads(created.stdout)["api_key"]
    expires = datetime.fromisoformat(record["expires_at"])
    assert timedelta(days=29, hours=23) < expires - datetime.now(UTC) <= timedelta(days=30)

    rotated = cli("keys", "rotate", "ci", "--grace", "2h")
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.stdout.strip()
    assert new_key.startswith("pv_")
    assert "works until" in rotated.stderr

    with Vault.open() as vault:
        keys = KeyService(vault.db)
        assert keys.authenticate(new_key).name == "ci"
        keys.flush_usage()
    table = cli("keys", "list").stdout
    assert "LAST USED" in table and "EXPIRES" in table
    assert "rotating" in table and "active" in table
    listed = json.loads(cli("keys", "list", "--json").stdout)
    assert [k["last_used_at"] is not None for k in listed] == [False, True]
    audit = json.loads(cli("audit", "log", "--action", "key.", "--json").stdout)
    assert [e["action"] for e in audit] == ["key.create", "key.rotate"]


def test_bad_spans_name_the_option(cli: Any) -> None:
    bad = cli("keys", "create", "ci", "--expires", "soon")
    assert bad.exit_code == 1 and "--expires 'soon'" in bad.stderr
    cli("keys", "create", "ci")
    bad = cli("keys", "rotate", "ci", "--grace", "1 fortnight")
    assert bad.exit_code == 1 and "--grace" in bad.stderr


def test_create_for_the_langfuse_sdk(cli: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("PROMPTVAULT_PORT", "8765")
    created = cli("keys", "create", "app", "--role", "runtime", "--langfuse")
    assert created.exit_code == 0, created.output
    lines = dict(line.split("=", 1) for line in created.stdout.splitlines())
    assert set(lines) == {"LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_HOST"}
    assert lines["LANGFUSE_PUBLIC_KEY"].startswith("pk-lf-")
    assert lines["LANGFUSE_HOST"] == "http://127.0.0.1:8765"
    key_id = lines["LANGFUSE_PUBLIC_KEY"].removeprefix("pk-lf-")
    secret = lines["LANGFUSE_SECRET_KEY"].removeprefix("sk-lf-")
    with Vault.open() as vault:
        record = KeyService(vault.db).authenticate(f"pv_{key_id}_{secret}")
        assert (record.name, record.role) == ("app", "runtime")
    as_json = json.loads(cli("keys", "create", "app2", "--langfuse", "--json").stdout)
    assert as_json["langfuse"]["public_key"] == "pk-lf-" + as_json["api_key"]["id"]
