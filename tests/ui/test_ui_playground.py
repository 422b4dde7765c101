"""The playground: required variables, placeholders, flags, few-shot examples, Anthropic model."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.errors import InvalidInputError
from promptvault.server.ui.playground import form_fields, parse_turns

from .conftest import csrf_of

AsRole = Callable[[str], TestClient]


def _json_block(page_html: str, block_id: str) -> dict[str, Any]:
    match = re.search(rf'id="{block_id}"><code>(.*?)</code>', page_html, re.DOTALL)
    assert match, f"no {block_id} block"
    value: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return value


def test_required_variables_left_empty_are_named_and_nothing_is_rendered(
    vault: Vault, as_role: AsRole
) -> None:
    vault.push("greet", template="Hello {{name}} from {{city}}, {{note}}", config={"model": "m"})
    viewer = as_role("viewer")
    page = viewer.get("/play/greet")
    token = csrf_of(page.text)
    empty = viewer.post(
        "/play/greet",
        data={"csrf": token, "v": "1", "var_name": "", "var_city": "  ", "var_note": "ok"},
    )
    assert empty.status_code == 422
    assert "fill in the required variables: city, name" in empty.text
    assert 'id="openai-json"' not in empty.text and "data-copy" not in empty.text
    full = viewer.post(
        "/play/greet",
        data={"csrf": token, "v": "1", "var_name": "Ada", "var_city": "Oslo", "var_note": "hi"},
    )
    assert full.status_code == 200
    assert _json_block(full.text, "openai-json")["messages"][0]["content"] == (
        "Hello Ada from Oslo, hi"
    )


def test_flags_history_and_examples_match_what_build_sends(vault: Vault, as_role: AsRole) -> None:
    template = [
        {"role": "system", "content": "Support.{{#tier.gold}} Gold customer.{{/tier.gold}}"},
        {"type": "placeholder", "name": "history"},
        {"role": "user", "content": "{{question}}"},
    ]
    vault.push("help", template=template, config={"model": "gpt-4", "temperature": 0.1})
    vault.examples.create("help-shots", prompt="help", query_template="{{question}}", k=2)
    vault.examples.add("help-shots", "My package arrived damaged", "Sorry! A new one ships today.")
    vault.examples.add("help-shots", "How do I change my password?", "Use the settings page.")
    editor = as_role("editor")
    page = editor.get("/play/help")
    assert 'name="var_tier.gold"' in page.text and 'name="var_tier.silver"' not in page.text
    assert 'name="var_history"' in page.text
    assert 'value="help-shots" selected' in page.text
    history = "user: Hi there\nassistant: Hello! How can I help?"
    result = editor.post(
        "/play/help",
        data={
            "csrf": csrf_of(page.text),
            "v": "1",
            "var_tier.gold": "1",
            "var_history": history,
            "var_question": "My parcel came broken",
            "collection": "help-shots",
        },
    )
    assert result.status_code == 200, result.text
    variables = {"tier": {"gold": True}, "question": "My parcel came broken"}
    turns = [
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello! How can I help?"},
    ]
    expected = vault.build("help", variables, examples={}, history=turns)
    assert expected.metadata.examples_used == 2
    assert _json_block(result.text, "openai-json") == expected.to_openai()
    anthropic = _json_block(result.text, "anthropic-json")
    assert anthropic == expected.to_anthropic()
    assert anthropic["model"] == "claude-sonnet-4-5"  # not "gpt-4"
    assert "Gold customer." in anthropic["system"]
    assert "2 examples from" in result.text
    # Without examples: the request has none, and the flag unchecked leaves the text out.
    bare = editor.post(
        "/play/help",
        data={"csrf": csrf_of(page.text), "v": "1", "var_question": "Hi", "collection": ""},
    )
    request = _json_block(bare.text, "openai-json")
    assert (
        request
        == vault.build("help", {"tier": {"gold": False}, "question": "Hi"}, history=[]).to_openai()
    )  # an empty history box: no earlier turns


def test_unattached_collection_is_refused(vault: Vault, as_role: AsRole) -> None:
    vault.push("solo", template="{{q}}", config={"model": "m"})
    vault.examples.create("elsewhere")
    viewer = as_role("viewer")
    page = viewer.get("/play/solo")
    assert "Few-shot examples from" not in page.text
    refused = viewer.post(
        "/play/solo",
        data={"csrf": csrf_of(page.text), "v": "1", "var_q": "x", "collection": "elsewhere"},
    )
    assert refused.status_code == 422 and "is not attached" in refused.text


def test_flags_take_schema_defaults_and_turns_parse_both_forms() -> None:
    schema = {
        "type": "object",
        "properties": {
            "tier": {
                "type": "object",
                "properties": {
                    "gold": {"type": "boolean", "default": True},
                    "vip": {"type": "boolean"},
                },
            }
        },
    }
    (field,) = form_fields(["tier"], schema)
    assert field.widget == "flags"
    assert [(f.name, f.checked) for f in field.flags] == [("gold", True), ("vip", False)]
    assert parse_turns("h", "user: a\nmore\nassistant: b") == [
        {"role": "user", "content": "a\nmore"},
        {"role": "assistant", "content": "b"},
    ]
    assert parse_turns("h", '[{"role": "user", "content": "x"}]') == [
        {"role": "user", "content": "x"}
    ]
    with pytest.raises(InvalidInputError) as bad:
        parse_turns("history", "no role here")
    assert bad.value.details == {"field": "history", "line": 1}
