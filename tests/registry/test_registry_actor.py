"""No audit entry, label event or version is anonymous when the caller names no actor."""

from __future__ import annotations

import getpass
import socket

import pytest

from promptvault import Vault
from promptvault.config import Settings


def test_library_calls_without_actor_record_user_at_host(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMPTVAULT_ACTOR", raising=False)
    expected = f"{getpass.getuser()}@{socket.gethostname()}"
    with Vault(Settings(database_url=database_url)) as vault:
        pushed = vault.push("p", template="one").version
        vault.push("p", template="two")
        moved = vault.set_label("p", "production", 2)
        back = vault.rollback("p")
        vault.archive("p")
        vault.experiments  # noqa: B018  (the services share the default)
        entries = vault.audit.entries()
        history = vault.label_history("p")
    assert pushed.author == expected
    assert moved.actor == expected and back.actor == expected
    assert {e.actor for e in history} == {expected}
    assert entries and {e.actor for e in entries} == {expected}


def test_the_settings_actor_wins_and_an_explicit_actor_wins_over_it(database_url: str) -> None:
    with Vault(Settings(database_url=database_url, actor="ci-bot")) as vault:
        assert vault.push("p", template="x").version.author == "ci-bot"
        assert vault.set_label("p", "staging", 1, actor="alice").actor == "alice"
        actors = [e.actor for e in vault.audit.entries()]
    assert actors == ["ci-bot", "ci-bot", "alice"]


def test_other_services_fall_back_to_the_default_actor(sqlite_url: str) -> None:
    with Vault(Settings(database_url=sqlite_url, actor="ops")) as vault:
        vault.examples.create("faq", embedder="hashing")
        assert [e.actor for e in vault.audit.entries()] == ["ops"]
