"""Export/import round trips losslessly; the JSON-file registry format imports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptvault import Vault
from promptvault.config import Settings
from promptvault.errors import ConflictError, InvalidInputError

from .conftest import snapshot


def _fill(vault: Vault) -> None:
    vault.push(
        "support/refunds",
        template="Refund for {{order}}",
        config={"model": "gpt-4o", "temperature": 0.2, "max_tokens": 300, "top_p": 0.9},
        variables_schema={"type": "object", "properties": {"order": {"type": "string"}}},
        message="first",
        author="alice",
        tags=["support", "money"],
        description="Refund answers — ünïcode",
    )
    vault.push("support/refunds", template="Refund {{order}} now", author="bob", labels=["beta"])
    vault.push(
        "chat",
        template=[{"role": "system", "content": "Be brief"}, {"role": "user", "content": "{{q}}"}],
    )
    vault.set_label("support/refunds", "production", 2, actor="carol")
    vault.rollback("support/refunds", actor="dave")
    vault.archive("chat", actor="erin")


def _state(vault: Vault) -> dict[str, object]:
    names = [p.name for p in vault.list_prompts(include_archived=True)]
    return {
        "prompts": vault.list_prompts(include_archived=True),
        "versions": {n: vault.versions(n) for n in names},
        "history": {
            n: [
                (e.label, e.from_version, e.to_version, e.action, e.actor, e.at)
                for e in vault.label_history(n)
            ]
            for n in names
        },
    }


def test_export_import_round_trip(database_url: str, sqlite_url: str, tmp_path: Path) -> None:
    source = Vault(Settings(database_url=database_url))
    _fill(source)
    path = tmp_path / "backup.json"
    assert source.export(path) == 2
    other = tmp_path / "other.db"
    target = Vault(Settings(database_url=f"sqlite:///{other}"))
    assert target.import_(path, actor="restorer") == 2
    assert _state(target) == _state(source)
    entries = target.audit.entries()
    assert [(e.action, e.actor) for e in entries] == [("registry.import", "restorer")]
    assert entries[0].details["prompts"] == ["chat", "support/refunds"]
    # The restored registry keeps working: numbering continues, rollback memory intact.
    target.unarchive("chat")
    assert target.push("chat", template=[{"role": "user", "content": "x"}]).version.version == 2
    target.set_label("support/refunds", "production", 2)
    assert target.rollback("support/refunds").to_version == 1
    source.close()
    target.close()


def test_import_is_all_or_nothing(sqlite_vault: Vault, tmp_path: Path) -> None:
    _fill(sqlite_vault)
    path = tmp_path / "backup.json"
    sqlite_vault.export(path)
    before = snapshot(sqlite_vault)
    with pytest.raises(ConflictError):
        sqlite_vault.import_(path)
    assert snapshot(sqlite_vault) == before


def test_tampered_export_rejected(tmp_path: Path, sqlite_url: str) -> None:
    with Vault(Settings(database_url=sqlite_url)) as vault:
        _fill(vault)
        path = tmp_path / "backup.json"
        vault.export(path)
    data = json.loads(path.read_text())
    data["prompts"][1]["versions"][0]["template"] = "Refund for {{order}} (edited)"
    path.write_text(json.dumps(data))
    with Vault(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}")) as target:
        with pytest.raises(InvalidInputError) as err:
            target.import_(path)
        assert "hash" in err.value.details["field"]
        assert target.list_prompts(include_archived=True) == []
        assert target.audit.entries() == []


SEED = {
    "customer_support": {
        "name": "customer_support",
        "versions": [
            {
                "version": 1,
                "template": "Hello {customer_name}, thanks for contacting {company_name}.",
                "variables": ["customer_name", "company_name"],
                "model": "gpt-4o",
                "temperature": 0.7,
                "max_tokens": 500,
                "created_at": "2024-05-01T10:00:00",
                "created_by": "alice",
                "hash": "abc123",
            },
            {
                "version": 2,
                "template": "Hi {customer_name}! {company_name} is here to help. {{literal}}",
                "variables": ["customer_name", "company_name"],
                "model": "gpt-4o-mini",
                "temperature": 0.5,
                "max_tokens": 400,
                "created_at": "2024-05-02T11:30:00",
                "created_by": "bob",
                "hash": "def456",
            },
        ],
        "active_version": 1,
        "tags": ["support"],
    }
}


def test_seed_registry_import(vault: Vault, tmp_path: Path) -> None:
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps(SEED))
    assert vault.import_seed_registry(path, actor="migrator") == 1
    assert vault.labels("customer_support") == {"production": 1}
    v1 = vault.get("customer_support")
    assert v1.author == "alice"
    assert v1.created_at.isoformat() == "2024-05-01T10:00:00+00:00"
    assert v1.config == {"model": "gpt-4o", "temperature": 0.7, "max_tokens": 500}
    assert "abc123" in v1.message
    rendered = vault.render("customer_support", {"customer_name": "Ada", "company_name": "Acme"})
    assert rendered == "Hello Ada, thanks for contacting Acme."
    assert vault.get("customer_support@latest").version == 2
    assert vault.get_prompt("customer_support").tags == ("support",)
    assert vault.audit.entries()[-1].action == "registry.import"
    with pytest.raises(ConflictError):
        vault.import_seed_registry(path)


def test_seed_registry_bad_input(sqlite_vault: Vault, tmp_path: Path) -> None:
    bad = json.loads(json.dumps(SEED))
    bad["customer_support"]["active_version"] = 7
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(InvalidInputError) as err:
        sqlite_vault.import_seed_registry(path)
    assert err.value.details["field"] == "customer_support.active_version"
    path.write_text("{not json")
    with pytest.raises(InvalidInputError):
        sqlite_vault.import_seed_registry(path)
    assert sqlite_vault.list_prompts() == []


def test_seed_without_dates_or_active_version(sqlite_vault: Vault, tmp_path: Path) -> None:
    seed = {
        "plain": {
            "versions": [
                {"version": 1, "template": "A {x}", "variables": ["x"]},
                {"version": 2, "template": "B {x} {y}", "variables": ["x", "y"]},
            ]
        }
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    assert sqlite_vault.import_seed_registry(path) == 1
    assert sqlite_vault.labels("plain") == {"production": 2}  # newest when none is active
    assert sqlite_vault.render("plain", {"x": 1, "y": 2}) == "B 1 2"
    assert sqlite_vault.get("plain@1").variables_schema == {
        "type": "object",
        "properties": {"x": {}},
        "required": ["x"],
    }
