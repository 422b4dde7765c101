"""Pushing versions: numbering, identical content, labels, validation, atomicity."""

from __future__ import annotations

from typing import Any

import pytest

from promptvault import Vault
from promptvault.errors import (
    ConflictError,
    InvalidInputError,
    LabelInvalidError,
    PromptNotFound,
    TemplateSyntaxError,
    VersionNotFound,
)
from promptvault.registry.validation import content_hash

from .conftest import snapshot


def test_push_numbers_versions_and_labels_first(vault: Vault) -> None:
    first = vault.push(
        "support",
        template="Hello {{name}}",
        config={"model": "gpt-4o", "temperature": 0.7, "max_tokens": 500},
        message="first",
        author="alice",
        tags=["support"],
        description="Customer support",
    )
    assert first.created
    assert first.version.version == 1
    assert first.version.labels == ("production",)
    assert first.version.author == "alice"
    assert first.version.hash == content_hash(
        template="Hello {{name}}",
        syntax="mustache",
        type="text",
        config={"model": "gpt-4o", "temperature": 0.7, "max_tokens": 500},
        variables_schema=None,
    )
    second = vault.push("support", template="Hi {{name}}", labels=["staging"], author="bob")
    assert second.created and second.version.version == 2
    assert second.version.labels == ("staging",)
    assert vault.labels("support") == {"production": 1, "staging": 2}
    assert vault.get("support").version == 1
    assert vault.get("support@latest").version == 2
    assert vault.get("support@staging").version == 2
    assert vault.get("support@1").template == "Hello {{name}}"
    assert vault.get("support", version=2).author == "bob"
    summary = vault.get_prompt("support")
    assert summary.latest_version == 2
    assert summary.tags == ("support",)
    assert summary.description == "Customer support"
    assert [v.version for v in vault.versions("support")] == [2, 1]
    assert [v.labels for v in vault.versions("support")] == [("staging",), ("production",)]


def test_identical_push_is_a_noop(vault: Vault) -> None:
    vault.push("p", template="A {{x}}", config={"temperature": 1})
    vault.push("p", template="B {{x}}")
    entries = len(vault.audit.entries())
    again = vault.push("p", template="B {{x}}")
    assert not again.created
    assert again.version.version == 2
    assert len(vault.audit.entries()) == entries
    # Identical to an older (not the newest) version is new content again.
    back = vault.push("p", template="A {{x}}", config={"temperature": 1})
    assert back.created and back.version.version == 3
    # A no-op push still moves the labels it names.
    moved = vault.push("p", template="A {{x}}", config={"temperature": 1}, labels=["staging"])
    assert not moved.created
    assert vault.labels("p")["staging"] == 3
    assert vault.audit.entries()[-1].action == "label.set"


def test_chat_prompt_type_inferred_and_rendered(sqlite_vault: Vault) -> None:
    messages = [
        {"role": "system", "content": "You help {{company}} customers."},
        {"type": "placeholder", "name": "history", "optional": True},
        {"role": "user", "content": "{{question}}"},
    ]
    result = sqlite_vault.push("chat", template=messages)
    assert result.version.type == "chat"
    assert sqlite_vault.get_prompt("chat").type == "chat"
    out = sqlite_vault.render(
        "chat",
        {"company": "Acme", "question": "Where is my order?"},
        placeholders={"history": [{"role": "assistant", "content": "{{not a template}}"}]},
    )
    assert out == [
        {"role": "system", "content": "You help Acme customers."},
        {"role": "assistant", "content": "{{not a template}}"},
        {"role": "user", "content": "Where is my order?"},
    ]


def test_render_text(sqlite_vault: Vault) -> None:
    sqlite_vault.push("t", template="Dear {{name}}, welcome to {{company}}.")
    rendered = sqlite_vault.render("t", {"name": "Ada", "company": "Acme"})
    assert rendered == "Dear Ada, welcome to Acme."
    with pytest.raises(InvalidInputError):
        sqlite_vault.render("t", {"name": "A", "company": "B"}, placeholders={"h": []})


BAD_PUSHES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"template": "x", "config": {"temperature": 2.5}}, InvalidInputError, "config.temperature"),
    ({"template": "x", "config": {"temperature": -1}}, InvalidInputError, "config.temperature"),
    ({"template": "x", "config": {"temperature": True}}, InvalidInputError, "config.temperature"),
    ({"template": "x", "config": {"max_tokens": 0}}, InvalidInputError, "config.max_tokens"),
    ({"template": "x", "config": {"max_tokens": 1.5}}, InvalidInputError, "config.max_tokens"),
    ({"template": "x", "config": {"x": object()}}, InvalidInputError, "config"),
    ({"template": "x", "config": {"x": float("nan")}}, InvalidInputError, "config"),
    ({"template": "x", "syntax": "handlebars"}, InvalidInputError, "syntax"),
    ({"template": "x", "type": "image"}, InvalidInputError, "type"),
    ({"template": ["x"], "type": "text"}, InvalidInputError, "template"),
    ({"template": "x", "labels": ["latest"]}, LabelInvalidError, "labels"),
    ({"template": "x", "labels": ["42"]}, LabelInvalidError, "labels"),
    ({"template": "x", "labels": ["Prod"]}, LabelInvalidError, "labels"),
    ({"template": "x", "tags": "support"}, InvalidInputError, "tags"),
    ({"template": "x", "variables_schema": {"type": 12}}, InvalidInputError, "variables_schema"),
    ({"template": "x", "variables_schema": []}, InvalidInputError, "variables_schema"),
    ({"template": "Hello {{name", "syntax": "mustache"}, TemplateSyntaxError, "template"),
    (
        {"template": [{"role": "user", "content": "ok"}, {"role": "user", "content": "{{x"}]},
        TemplateSyntaxError,
        "messages[1].content",
    ),
    (
        {"template": [{"role": "wizard", "content": "ok"}]},
        InvalidInputError,
        "messages[0].role",
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "field"), BAD_PUSHES)
def test_bad_push_rejected_and_nothing_written(
    sqlite_vault: Vault, kwargs: dict[str, Any], error: type[Exception], field: str
) -> None:
    sqlite_vault.push("p", template="ok {{x}}", tags=["a"])
    before = snapshot(sqlite_vault)
    with pytest.raises(error) as err:
        sqlite_vault.push("p", **kwargs)
    # The field named is the culprit or a path inside it (variables_schema.type).
    got = err.value.details.get("field")  # type: ignore[attr-defined]
    assert got == field or got.startswith(field + ".")
    assert snapshot(sqlite_vault) == before


def test_syntax_error_reports_position(sqlite_vault: Vault) -> None:
    with pytest.raises(TemplateSyntaxError) as err:
        sqlite_vault.push("p", template="line one\nHello {{name")
    assert err.value.details["line"] == 2
    assert err.value.details.get("column") is not None


def test_schema_must_fit_template(vault: Vault) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "additionalProperties": False,
    }
    ok = vault.push("s", template="Hi {{name}}", variables_schema=schema)
    assert ok.version.variables_schema == schema
    before = snapshot(vault)
    with pytest.raises(InvalidInputError) as err:
        vault.push("s", template="Hi {{name}} from {{city}}", variables_schema=schema)
    assert err.value.details["field"] == "variables_schema.properties.city"
    assert snapshot(vault) == before


def test_bad_names_rejected_before_writing(sqlite_vault: Vault) -> None:
    for bad in ["", "a b", "x@y", "-lead", "a" * 201]:
        with pytest.raises(InvalidInputError):
            sqlite_vault.push(bad, template="x")
    assert sqlite_vault.list_prompts() == []


def test_lookups_suggest_near_names(sqlite_vault: Vault) -> None:
    sqlite_vault.push("customer_support", template="x", labels=["staging"])
    with pytest.raises(PromptNotFound) as err:
        sqlite_vault.get("customer_suport")
    assert err.value.details["suggestions"] == ["customer_support"]
    with pytest.raises(VersionNotFound) as verr:
        sqlite_vault.get("customer_support@9")
    assert verr.value.details["latest"] == 1
    from promptvault.errors import LabelNotFound

    with pytest.raises(LabelNotFound) as lerr:
        sqlite_vault.get("customer_support@stagin")
    assert lerr.value.details["suggestions"] == ["staging"]
    with pytest.raises(PromptNotFound):
        sqlite_vault.versions("nope")


def test_archive_hides_and_blocks_pushes(vault: Vault) -> None:
    vault.push("old", template="x")
    vault.push("new", template="y")
    vault.archive("old", actor="alice")
    assert [p.name for p in vault.list_prompts()] == ["new"]
    assert [p.name for p in vault.list_prompts(include_archived=True)] == ["new", "old"]
    with pytest.raises(PromptNotFound):  # an archived prompt does not resolve
        vault.render("old")
    assert vault.get("old", include_archived=True).template == "x"  # the registry's own view
    with pytest.raises(ConflictError):
        vault.push("old", template="z")
    vault.unarchive("old", actor="alice")
    assert vault.push("old", template="z").version.version == 2
    actions = [e.action for e in vault.audit.entries(target="prompt:old")]
    assert "prompt.archive" in actions and "prompt.unarchive" in actions


def test_list_prompts_filters_and_pages(vault: Vault) -> None:
    for name, tags, desc in [
        ("support/billing", ["support"], "Billing answers"),
        ("support/refunds", ["support", "money"], ""),
        ("sales/pitch", ["sales"], "Support for sales"),
        ("zeta", [], ""),
    ]:
        vault.push(name, template="x", tags=tags, description=desc)
    assert [p.name for p in vault.list_prompts(tag="support")] == [
        "support/billing",
        "support/refunds",
    ]
    assert [p.name for p in vault.list_prompts(search="SUPPORT")] == [
        "sales/pitch",
        "support/billing",
        "support/refunds",
    ]
    assert [p.name for p in vault.list_prompts(folder="support")] == [
        "support/billing",
        "support/refunds",
    ]
    page1 = vault.list_prompts(limit=2)
    page2 = vault.list_prompts(limit=2, after=page1[-1].name)
    assert [p.name for p in page1 + page2] == [
        "sales/pitch",
        "support/billing",
        "support/refunds",
        "zeta",
    ]
    assert page1[0].labels == {"production": 1}
    assert vault.list_prompts(search="%") == []


def test_render_strictness(sqlite_vault: Vault) -> None:
    from promptvault.errors import MissingVariablesError

    sqlite_vault.push("m", template="Hi {{name}}, your order {{order}} shipped.")
    with pytest.raises(MissingVariablesError) as err:
        sqlite_vault.render("m", {"name": "Ada"})
    assert err.value.names == ["order"]
    assert sqlite_vault.render("m", {"name": "Ada"}, strict=False) == "Hi Ada, your order  shipped."
    with pytest.raises(MissingVariablesError):
        sqlite_vault.render("m")


def test_unicode_and_config_extras_round_trip(vault: Vault) -> None:
    config = {"model": "m", "temperature": 0, "max_tokens": 1, "stop": ["\n"], "seed": 7}
    result = vault.push("intl/greeting", template="Grüße {{name}} 🎉 名前", config=config)
    vault.registry.resolver.invalidate()
    vault.registry.resolver._versions.clear()  # read back from the database, not the cache
    got = vault.get("intl/greeting@1")
    assert got.template == "Grüße {{name}} 🎉 名前"
    assert got.config == config
    assert got.hash == result.version.hash


def test_schema_defaults_fill_missing_variables(sqlite_vault: Vault) -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "greeting": {"type": "string", "default": "Hello"},
        },
        "required": ["name"],
    }
    sqlite_vault.push("d", template="{{greeting}}, {{name}}!", variables_schema=schema)
    assert sqlite_vault.render("d", {"name": "Ada"}) == "Hello, Ada!"
    assert sqlite_vault.render("d", {"name": "Ada", "greeting": "Hi"}) == "Hi, Ada!"


def test_nested_schema_defaults(sqlite_vault: Vault) -> None:
    schema = {
        "type": "object",
        "properties": {
            "question": {"type": "string"},
            "tier": {
                "type": "object",
                "default": {},
                "properties": {"pro": {"type": "boolean", "default": False}},
            },
        },
    }
    sqlite_vault.push(
        "tiers", template="{{#tier.pro}}PRO {{/tier.pro}}{{question}}", variables_schema=schema
    )
    assert sqlite_vault.render("tiers", {"question": "Q"}) == "Q"
    assert sqlite_vault.render("tiers", {"question": "Q", "tier": {"pro": True}}) == "PRO Q"
