"""Four-eyes approval in the library, on both databases: requests, decisions, comments."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from promptvault import Vault
from promptvault.errors import NotFoundError, RequestStateError, SelfApprovalError

from .conftest import snapshot


def _rows(vault: Vault, table: str) -> list[tuple[object, ...]]:
    with vault.db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]


def test_approval_moves_the_label_and_records_the_decision(vault: Vault) -> None:
    vault.push("faq", template="one", labels=["production"], author="setup")
    vault.push("faq", template="two", author="setup")
    asked = vault.requests.request("faq", "production", 2, actor="ed", comment="ship it")
    assert (asked.status, asked.from_version, asked.to_version) == ("open", 1, 2)
    assert vault.requests.open_count() == 1

    with pytest.raises(SelfApprovalError):
        vault.requests.approve(asked.id, actor="ed")
    done = vault.requests.approve(asked.id, actor="alice", comment="fine")

    assert (done.status, done.decided_by, done.decision_comment) == ("approved", "alice", "fine")
    assert done.decided_at is not None
    assert vault.get("faq@production").version == 2
    assert vault.requests.open_count() == 0
    actions = [e.action for e in vault.audit.entries(target="prompt:faq")]
    assert actions[-3:] == ["request.create", "label.set", "request.approve"]
    assert vault.audit.verify().ok
    with pytest.raises(RequestStateError, match="already approved"):
        vault.requests.reject(asked.id, actor="bob")


def test_a_stale_approval_writes_nothing(vault: Vault) -> None:
    vault.push("faq", template="one", labels=["production"], author="setup")
    vault.push("faq", template="two", author="setup")
    vault.push("faq", template="three", author="setup")
    asked = vault.requests.request("faq", "production", 2, actor="ed")
    vault.set_label("faq", "production", 3, actor="alice")
    before = snapshot(vault), _rows(vault, "change_requests")

    with pytest.raises(RequestStateError, match="moved to version 3"):
        vault.requests.approve(asked.id, actor="bob")

    assert (snapshot(vault), _rows(vault, "change_requests")) == before
    assert vault.requests.get(asked.id).status == "open"


def test_rejection_moves_nothing(vault: Vault) -> None:
    vault.push("faq", template="one", labels=["production"], author="setup")
    vault.push("faq", template="two", author="setup")
    asked = vault.requests.request("faq", "production", 2, actor="ed")
    done = vault.requests.reject(asked.id, actor="ed", comment="not yet")
    assert (done.status, done.decided_by, done.decision_comment) == ("rejected", "ed", "not yet")
    assert vault.get("faq@production").version == 1
    assert [r.id for r in vault.requests.list(status="rejected", prompt="faq")] == [asked.id]
    assert vault.requests.list(status="open") == []


def test_comments_hang_on_a_version_or_on_a_request_of_the_same_prompt(vault: Vault) -> None:
    vault.push("faq", template="one", author="setup")
    vault.push("other", template="x", author="setup")
    asked = vault.requests.request("faq", "staging", 1, actor="ed")
    on_version = vault.requests.comment("faq", "typo in line 2", version=1, actor="vi")
    on_request = vault.requests.comment("faq", "looks good", request=asked.id, actor="bob")

    assert [c.id for c in vault.requests.comments("faq", version=1)] == [on_version.id]
    assert [c.body for c in vault.requests.comments("faq", request=asked.id)] == ["looks good"]
    assert on_request.request == asked.id and on_request.author == "bob"
    assert vault.requests.comments("missing", version=1) == []
    with pytest.raises(NotFoundError, match="no change request"):
        vault.requests.comment("other", "wrong prompt", request=asked.id, actor="bob")
    with pytest.raises(NotFoundError, match="no version 5"):
        vault.requests.comment("faq", "nope", version=5, actor="bob")
    vault.set_label("faq", "staging", 1, actor="setup")
    with pytest.raises(RequestStateError, match="nothing to approve"):
        vault.requests.request("faq", "staging", 1, actor="ed")
