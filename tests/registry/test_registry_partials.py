"""Partials: other prompts included by name, label or version, resolved at render time."""

from __future__ import annotations

import pytest

from promptvault import Vault
from promptvault.errors import PromptNotFound, TemplateLimitError, TemplateSyntaxError

from .conftest import snapshot


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
    sqlite_vault.push("b", template="B", syntax="jinja")
    sqlite_vault.push("a", template='A {% include "b" %}', syntax="jinja")
    sqlite_vault.push("b", template='B {% include "a" %}', syntax="jinja")  # not production
    # A label move that would close the cycle is refused, and leaves nothing behind.
    before = snapshot(sqlite_vault)
    with pytest.raises(TemplateLimitError) as moved:
        sqlite_vault.set_label("b", "production", 2)
    assert "b@2 -> a -> b" in moved.value.message
    assert snapshot(sqlite_vault) == before
    # One stored by an earlier release still fails at render with a clear cycle error.
    with sqlite_vault.db.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE labels SET version_id = (SELECT id FROM prompt_versions WHERE version = 2 "
            "AND prompt_id = labels.prompt_id) WHERE label = 'production' AND prompt_id = "
            "(SELECT id FROM prompts WHERE name = 'b')"
        )
    sqlite_vault.registry.resolver.invalidate()
    with pytest.raises(TemplateLimitError) as err:
        sqlite_vault.render("a")
    assert err.value.details["cycle"] is True
    assert "cycle" in err.value.message


def test_missing_partial_prompt(sqlite_vault: Vault) -> None:
    sqlite_vault.push(
        "main", template='{% include "nowhere" %}', syntax="jinja", allow_missing_partials=True
    )
    with pytest.raises(PromptNotFound):
        sqlite_vault.render("main")


@pytest.mark.parametrize(
    ("syntax", "template", "line", "column"),
    [
        ("mustache", "Hi {{name}}\n  {{> nope}}", 2, 3),
        ("mustache", "{{#x}}{{< layout@staging}}{{/layout@staging}}{{/x}}", 1, 7),
        ("jinja", 'Hi {{ name }}\n{% include "nope" %}', 2, 13),
    ],
)
def test_a_push_including_a_missing_prompt_is_refused(
    vault: Vault, syntax: str, template: str, line: int, column: int
) -> None:
    vault.push("layout", template="L")  # exists, but has no staging label
    before = snapshot(vault)
    with pytest.raises(TemplateSyntaxError) as err:
        vault.push("main", template=template, syntax=syntax)
    assert (err.value.line, err.value.column) == (line, column)
    assert err.value.details["field"] == "template"
    assert "unknown partial" in err.value.message
    assert snapshot(vault) == before
    # A deliberate forward reference is allowed when asked for, never by default.
    assert vault.push("main", template=template, syntax=syntax, allow_missing_partials=True).created


def test_a_chat_message_including_a_missing_prompt_names_the_message(vault: Vault) -> None:
    messages = [{"role": "system", "content": "ok"}, {"role": "user", "content": "{{> nope}}"}]
    with pytest.raises(TemplateSyntaxError) as err:
        vault.push("chat", template=messages)
    assert err.value.details["field"] == "template[1].content"
    assert (err.value.line, err.value.column) == (1, 1)


def test_a_push_closing_a_cycle_is_refused(vault: Vault) -> None:
    with pytest.raises(TemplateLimitError) as err:
        vault.push("self", template="again {{> self}}")
    assert err.value.details["limit"] == "partial_cycle"
    assert (err.value.details["line"], err.value.details["column"]) == (1, 7)

    vault.push("a", template="A {{> b}}", allow_missing_partials=True)
    before = snapshot(vault)
    with pytest.raises(TemplateLimitError) as err:
        vault.push("b", template="B {{> a}}")  # b's first version gets production: a -> b
    assert "b -> a -> b" in err.value.message
    with pytest.raises(TemplateLimitError):  # even a deliberate forward reference
        vault.push("b", template="B {{> a}}", allow_missing_partials=True)
    assert snapshot(vault) == before
    # Pushed without moving the label the cycle would go through, it is accepted.
    vault.push("b", template="B")
    assert vault.push("b", template="B2 {{> a}}").version.version == 2
    assert vault.render("a") == "A B"
    with pytest.raises(TemplateLimitError):
        vault.push("b", template="B3 {{> a}}", labels=["production"])


def test_push_checks_partials_through_the_server(vault: Vault) -> None:
    from starlette.testclient import TestClient

    from promptvault.server.app import create_app

    app = create_app(vault)
    key = app.state.keys.create("editor-key", "editor", actor="setup")[0]
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        refused = client.post("/v1/prompts/main/versions", json={"template": "x {{> nope}}"})
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "template_syntax"
        assert refused.json()["error"]["details"]["column"] == 3
        allowed = client.post(
            "/v1/prompts/main/versions",
            json={"template": "x {{> nope}}", "allow_missing_partials": True},
        )
        assert allowed.status_code == 201
