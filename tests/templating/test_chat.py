"""Chat templates: validation, rendering, placeholders, merged variables and schema."""

from __future__ import annotations

from typing import Any

import pytest

from promptvault.errors import (
    InvalidInputError,
    MissingVariablesError,
    TemplateSecurityError,
    TemplateSyntaxError,
)
from promptvault.templating import ChatTemplate, compile_chat

SYNTAXES = ["mustache", "jinja"]


def var(name: str, syntax: str) -> str:
    return "{{" + name + "}}" if syntax == "mustache" else "{{ " + name + " }}"


def support_chat(syntax: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": f"You help customers of {var('company', syntax)}."},
        {"type": "placeholder", "name": "history", "optional": True},
        {"role": "user", "content": var("question", syntax), "name": "customer"},
    ]


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_renders_messages_and_keeps_extra_keys(syntax: str) -> None:
    chat = compile_chat(support_chat(syntax), syntax=syntax)  # type: ignore[arg-type]
    assert isinstance(chat, ChatTemplate)
    out = chat.render({"company": "Acme", "question": "Where is my order?"})
    assert out == [
        {"role": "system", "content": "You help customers of Acme."},
        {"role": "user", "content": "Where is my order?", "name": "customer"},
    ]
    assert chat.variables == {"company", "question"}
    assert chat.placeholders == ("history",)
    assert chat.syntax == syntax


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_placeholder_messages_are_inserted_in_place_and_literally(syntax: str) -> None:
    chat = compile_chat(support_chat(syntax), syntax=syntax)  # type: ignore[arg-type]
    history = [
        {"role": "user", "content": "{{company}} {{ question }} {{> p}}"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
        {"role": "tool", "content": [{"type": "text", "text": "42"}], "tool_call_id": "1"},
    ]
    out = chat.render({"company": "Acme", "question": "Q"}, placeholders={"history": history})
    assert [m["role"] for m in out] == ["system", "user", "assistant", "tool", "user"]
    assert out[1:4] == history
    assert out[1] is not history[0]  # copies: rendering never mutates the caller's list


def test_missing_required_placeholder_and_variables_reported_together() -> None:
    chat = compile_chat(
        [
            {"role": "system", "content": "Sys {{a}}"},
            {"type": "placeholder", "name": "history"},
            {"role": "user", "content": "x\n  {{b}} {{c.d}}"},
        ]
    )
    with pytest.raises(MissingVariablesError) as err:
        chat.render({})
    missing = err.value.missing
    assert {"name": "a", "line": 1, "column": 5, "message": 0} in missing
    assert {"name": "history", "kind": "placeholder", "message": 1} in missing
    assert {"name": "b", "line": 2, "column": 3, "message": 2} in missing
    assert any(m["name"] in ("c", "c.d") and m["message"] == 2 for m in missing)
    assert "history" in err.value.message
    # non-strict: missing names render empty, the missing placeholder inserts nothing
    out = chat.render({}, strict=False)
    assert out == [
        {"role": "system", "content": "Sys "},
        {"role": "user", "content": "x\n   "},
    ]


def test_jinja_runtime_missing_attribute_carries_message_index() -> None:
    chat = compile_chat(
        [{"role": "system", "content": "ok"}, {"role": "user", "content": "{{ u.name }}"}],
        syntax="jinja",
    )
    with pytest.raises(MissingVariablesError) as err:
        chat.render({"u": {}})
    assert err.value.missing[0]["message"] == 1
    assert err.value.missing[0]["name"] == "u.name"


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        ([{"role": "bot", "content": "x"}], "messages[0].role"),
        ([{"role": "user", "content": ""}, {"role": "System", "content": ""}], "messages[1].role"),
        ([{"content": "x"}], "messages[0].role"),
        ([{"role": "user", "content": 3}], "messages[0].content"),
        ([{"role": "user"}], "messages[0].content"),
        (["hello"], "messages[0]"),
        ([{"type": "image", "role": "user", "content": "x"}], "messages[0].type"),
        ([{"type": "placeholder"}], "messages[0].name"),
        ([{"type": "placeholder", "name": "h", "optional": "yes"}], "messages[0].optional"),
        (
            [{"type": "placeholder", "name": "h"}, {"type": "placeholder", "name": "h"}],
            "messages[1].name",
        ),
    ],
)
def test_invalid_messages_name_the_field(messages: list[Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        compile_chat(messages)
    assert err.value.details["field"] == field
    assert err.value.code == "invalid_input"


@pytest.mark.parametrize("spec", ["just text", {"role": "user"}, None, 3, []])
def test_messages_must_be_a_list(spec: Any) -> None:
    with pytest.raises(InvalidInputError) as err:
        compile_chat(spec)
    assert err.value.details["field"] == "messages"


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_syntax_error_names_message_content_with_line_and_column(syntax: str) -> None:
    bad = "fine\n{{#open}}" if syntax == "mustache" else "fine\n{% if open %}"
    with pytest.raises(TemplateSyntaxError) as err:
        compile_chat(
            [{"role": "system", "content": "ok"}, {"role": "user", "content": bad}],
            syntax=syntax,  # type: ignore[arg-type]
        )
    details = err.value.details
    assert details["field"] == "messages[1].content"
    assert details["message"] == 1
    assert (details["line"], details["column"]) == (2, 1)
    assert err.value.message.startswith("messages[1].content:")
    assert details["excerpt"].splitlines()[0] == bad.splitlines()[1]


def test_security_error_names_the_message() -> None:
    with pytest.raises(TemplateSecurityError) as err:
        compile_chat(
            [{"role": "user", "content": "{{ ''.__class__ }}"}],
            syntax="jinja",
        )
    assert err.value.details["field"] == "messages[0].content"


@pytest.mark.parametrize(
    ("placeholders", "field"),
    [
        ({"history": "not a list"}, "placeholders.history"),
        ({"history": [{"role": "robot", "content": "x"}]}, "placeholders.history[0].role"),
        ({"history": [{"role": "user", "content": 5}]}, "placeholders.history[0].content"),
        ({"history": ["hi"]}, "placeholders.history[0]"),
        ({"history": [], "other": []}, "placeholders.other"),
    ],
)
def test_invalid_placeholder_values_name_the_field(placeholders: Any, field: str) -> None:
    chat = compile_chat(support_chat("mustache"))
    with pytest.raises(InvalidInputError) as err:
        chat.render({"company": "A", "question": "Q"}, placeholders=placeholders)
    assert err.value.details["field"] == field


def test_unknown_placeholder_is_ignored_when_lenient() -> None:
    chat = compile_chat(support_chat("mustache"))
    out = chat.render({"company": "A", "question": "Q"}, placeholders={"other": []}, strict=False)
    assert len(out) == 2


def test_schema_merges_across_messages_with_structured_types_winning() -> None:
    chat = compile_chat(
        [
            {"role": "system", "content": "{{name}} {{#items}}{{title}}{{/items}}"},
            {"role": "user", "content": "{{user.email}} {{name}}"},
            {"role": "assistant", "content": "{{user.id}}"},
        ]
    )
    schema = chat.schema()
    props = schema["properties"]
    assert props["name"] == {"type": "string"}
    assert props["items"]["type"] == "array"
    assert set(props["user"]["properties"]) == {"email", "id"}
    assert set(schema["required"]) == {"name", "items", "user"}
    assert chat.variables == {"name", "items", "user"}


def test_messages_spec_is_kept_and_repr() -> None:
    spec = support_chat("mustache")
    chat = compile_chat(spec)
    assert chat.messages == spec
    assert chat.messages[0] is not spec[0]
    assert "3 items" in repr(chat)


def test_partials_reach_every_message() -> None:
    chat = compile_chat(
        [{"role": "system", "content": "{{> safety}}"}, {"role": "user", "content": "{{q}}"}],
        partials={"safety": "Be safe, {{name}}."},
    )
    assert chat.variables == {"name", "q"}
    assert chat.render({"name": "Ada", "q": "?"})[0]["content"] == "Be safe, Ada."


def test_unknown_syntax_is_rejected_even_without_messages_to_compile() -> None:
    with pytest.raises(InvalidInputError) as err:
        compile_chat([{"type": "placeholder", "name": "h"}], syntax="handlebars")  # type: ignore[arg-type]
    assert err.value.details["field"] == "syntax"
