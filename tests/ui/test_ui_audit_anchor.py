"""The audit page's verification names a deleted tail and confirms the signed checkpoint."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from promptvault import Vault

from .conftest import csrf_of


def test_verify_on_the_audit_page(vault: Vault, as_role: Any) -> None:
    vault.push("p", template="a")
    vault.push("p", template="b")
    admin = as_role("admin")
    head = vault.audit.entries()[-1].seq
    result = admin.post("/audit/verify", data={"csrf": csrf_of(admin.get("/audit").text)})
    assert f"agrees with the signed checkpoint of entry #{head}" in result.text
    with vault.db.engine.connect() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = :s"), {"s": head})
        conn.commit()
    result = admin.post("/audit/verify", data={"csrf": csrf_of(admin.get("/audit").text)})
    assert "Chain broken" in result.text and "the newest entries are missing" in result.text
