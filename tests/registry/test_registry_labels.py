"""Labels: set, rollback, delete and their history."""

from __future__ import annotations

import pytest

from promptvault import Vault
from promptvault.errors import (
    ConflictError,
    LabelInvalidError,
    LabelNotFound,
    PromptNotFound,
    VersionNotFound,
)

from .conftest import snapshot


def _three_versions(vault: Vault) -> None:
    for i in range(1, 4):
        vault.push("p", template=f"v{i}", author="alice")


def test_set_label_and_history(vault: Vault) -> None:
    _three_versions(vault)
    event = vault.set_label("p", "production", 3, actor="bob")
    assert (event.from_version, event.to_version, event.actor) == (1, 3, "bob")
    assert vault.get("p").template == "v3"
    history = vault.label_history("p", "production")
    assert [(e.from_version, e.to_version) for e in history] == [(1, 3), (None, 1)]
    # A move to where the label already points records nothing and says so.
    before = snapshot(vault)
    same = vault.set_label("p", "production", 3, actor="carol")
    assert (same.changed, same.id, same.from_version, same.to_version) == (False, event.id, 3, 3)
    assert event.changed
    assert snapshot(vault) == before


def test_promote_twice_then_rollback_goes_back(vault: Vault) -> None:
    _three_versions(vault)
    vault.set_label("p", "production", 3)
    vault.set_label("p", "production", 3)  # a double-click
    back = vault.rollback("p")
    assert (back.from_version, back.to_version) == (3, 1)
    assert vault.get("p").version == 1
    assert [e.action for e in vault.audit.entries(action="label.")].count("label.set") == 2


def test_rollback_skips_no_op_moves_stored_earlier(vault: Vault) -> None:
    _three_versions(vault)
    vault.set_label("p", "production", 2)
    vault.set_label("p", "production", 3)
    # Rows written by an older release, which recorded "v3 -> v3" moves.
    from sqlalchemy import text

    with vault.db.engine.begin() as conn:
        for _ in range(2):
            conn.execute(
                text(
                    "INSERT INTO label_events (prompt_id, label, from_version, to_version, "
                    "action, actor, at) SELECT prompt_id, label, 3, 3, 'set', 'old', at "
                    "FROM label_events WHERE to_version = 3"
                )
            )
    assert vault.rollback("p").to_version == 2
    assert vault.rollback("p").to_version == 1


def test_rollback_walks_back_like_a_stack(vault: Vault) -> None:
    _three_versions(vault)
    vault.set_label("p", "production", 2)
    vault.set_label("p", "production", 3)
    first = vault.rollback("p", actor="carol")
    assert (first.action, first.from_version, first.to_version) == ("rollback", 3, 2)
    assert vault.get("p").version == 2
    second = vault.rollback("p")
    assert second.to_version == 1
    assert vault.get("p").version == 1
    before = snapshot(vault)
    with pytest.raises(ConflictError):
        vault.rollback("p")  # production was created at 1: nowhere earlier to go
    assert snapshot(vault) == before
    actions = [e.action for e in vault.audit.entries(action="label.")]
    assert actions.count("label.rollback") == 2


def test_delete_label(sqlite_vault: Vault) -> None:
    _three_versions(sqlite_vault)
    sqlite_vault.set_label("p", "staging", 2)
    event = sqlite_vault.delete_label("p", "staging", actor="dan")
    assert event.action == "delete"
    assert "staging" not in sqlite_vault.labels("p")
    with pytest.raises(LabelNotFound):
        sqlite_vault.get("p@staging")
    with pytest.raises(LabelNotFound):
        sqlite_vault.delete_label("p", "staging")
    assert [e.action for e in sqlite_vault.label_history("p", "staging")] == ["delete", "set"]


def test_label_errors(sqlite_vault: Vault) -> None:
    _three_versions(sqlite_vault)
    before = snapshot(sqlite_vault)
    with pytest.raises(LabelInvalidError):
        sqlite_vault.set_label("p", "latest", 1)
    with pytest.raises(LabelInvalidError):
        sqlite_vault.set_label("p", "7", 1)
    with pytest.raises(VersionNotFound):
        sqlite_vault.set_label("p", "staging", 9)
    with pytest.raises(PromptNotFound):
        sqlite_vault.set_label("q", "staging", 1)
    with pytest.raises(LabelNotFound) as err:
        sqlite_vault.rollback("p", label="canary")
    assert err.value.details["labels"] == ["production"]
    assert snapshot(sqlite_vault) == before


def test_every_write_is_audited(vault: Vault) -> None:
    _three_versions(vault)
    vault.set_label("p", "staging", 2, actor="eve")
    vault.set_label("p", "staging", 3, actor="eve")
    vault.rollback("p", label="staging", actor="eve")
    vault.delete_label("p", "production", actor="eve")
    actions = [e.action for e in vault.audit.entries()]
    assert actions == [
        "prompt.push",
        "label.set",
        "prompt.push",
        "prompt.push",
        "label.set",
        "label.set",
        "label.rollback",
        "label.delete",
    ]
    assert [e.seq for e in vault.audit.entries()] == list(range(1, 9))
    assert vault.audit.verify().ok
    assert [e.seq for e in vault.audit.entries(actor="eve", limit=2)] == [5, 6]
    assert [e.seq for e in vault.audit.entries(after_seq=7)] == [8]
    assert vault.audit.entries(action="label.rollback")[0].details == {
        "label": "staging",
        "from_version": 3,
        "to_version": 2,
    }
