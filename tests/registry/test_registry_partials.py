"""Partials: other prompts included by name, label or version, resolved at render time."""

from __future__ import annotations

import pytest

from promptvault import Vault
from promptvault.errors import PromptNotFound, TemplateLimitError


def test_jinja_partials_follow_labels(vault: Vault) -> None:
    vault.push("footer", template="Regards, {{ team }}", syntax="jinja")
    vault.push("main", template='Hi {{ name }}. {% include "footer" %}', syntax="jinja")
    data = {"name": "Ada", "team": "Support"}
    assert vault.render("main", data) == "Hi Ada. Regards, Support"
    vault.push("footer", template="Cheers, {{ team }}", syntax="jinja", labels=["staging"])
    vault.push("pinned", template='{% include "footer@1" %}!', syntax="jinja")
    vault.push("preview", template='{% include "footer@staging" %}?', syntax="jinja")
    assert vault.render("main", data) == "Hi Ada. Regards, Support"  # production unchanged
    assert vault.render("preview", data) == "Cheers, Support?"
    vault.set_label("footer", "production", 2)
    assert vault.render("main", data) == "Hi Ada. Cheers, Support"  # same Vault: at once
    assert vault.render("pinned", data) == "Regards, Support!"


def test_mustache_partials(sqlite_vault: Vault) -> None:
    sqlite_vault.push("sig", template="-- {{team}}")
    sqlite_vault.push("mail", template="Hello {{name}}\n{{> sig}}")
    assert sqlite_vault.render("mail", {"name": "Ada", "team": "Acme"}) == "Hello Ada\n-- Acme"
    sqlite_vault.push("sig", template="Best, {{team}}", labels=["beta"])
    sqlite_vault.push("mail-beta", template="Hello {{name}}\n{{> sig@beta}}")
    rendered = sqlite_vault.render("mail-beta", {"name": "Ada", "team": "Acme"})
    assert rendered == "Hello Ada\nBest, Acme"


def test_partial_cycle_is_an_error(sqlite_vault: Vault) -> None:
    sqlite_vault.push("a", template='A {% include "b" %}', syntax="jinja")
    sqlite_vault.push("b", template='B {% include "a" %}', syntax="jinja")
    with pytest.raises(TemplateLimitError) as err:
        sqlite_vault.render("a")
    assert err.value.details["cycle"] is True
    assert "cycle" in err.value.message


def test_missing_partial_prompt(sqlite_vault: Vault) -> None:
    sqlite_vault.push("main", template='{% include "nowhere" %}', syntax="jinja")
    with pytest.raises(PromptNotFound):
        sqlite_vault.render("main")
