"""``POST /v1/audit/verify`` reports tampering the hash chain alone cannot see."""

from __future__ import annotations

from sqlalchemy import text
from starlette.testclient import TestClient

from promptvault import Vault

from .conftest import bearer


def test_verify_reports_a_deleted_tail_and_a_forged_checkpoint(
    client: TestClient, keys: dict[str, str], vault: Vault
) -> None:
    admin = TestClient(client.app, headers=bearer(keys["admin"]))
    vault.push("p", template="a")
    vault.push("p", template="b")
    assert admin.post("/v1/audit/verify").json()["ok"] is True
    with vault.db.engine.connect() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)"))
        conn.commit()
    body = admin.post("/v1/audit/verify").json()
    assert (body["ok"], body["problem"]) == (False, "tail_missing")
    assert "newest entries are missing" in body["reason"]
    with vault.db.engine.connect() as conn:
        conn.execute(text("UPDATE audit_checkpoints SET seq = seq - 1"))
        conn.commit()
    body = admin.post("/v1/audit/verify").json()
    assert (body["ok"], body["problem"]) == (False, "checkpoint_forged")
