"""``to_langchain``: the real langchain-core renders what promptvault renders."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder, PromptTemplate

from promptvault import Vault
from promptvault.config import Settings
from promptvault.errors import InvalidInputError
from promptvault.integrations.langchain import to_langchain


@pytest.fixture
def vault(sqlite_url: str) -> Iterator[Vault]:
    v = Vault(Settings(database_url=sqlite_url))
    yield v
    v.close()


def test_mustache_text_renders_the_same(vault: Vault) -> None:
    vault.push(
        "t",
        template="Hi {{ name }} <{{co.name}}> {{#vip}}VIP {{.}}{{/vip}}{{^vip}}no{{/vip}}"
        " {{{raw}}}",
    )
    template = to_langchain(vault.get("t"))
    assert isinstance(template, PromptTemplate) and template.template_format == "mustache"
    data = {"name": "A & <B>", "co": {"name": "O'Neil & Co"}, "vip": ["x", "y"], "raw": "<r>"}
    assert template.format(**data) == vault.render("t", data)
    assert "A & <B>" in template.format(**data)  # not HTML-escaped, as in promptvault


def test_chat_with_placeholders(vault: Vault) -> None:
    vault.push(
        "c",
        template=[
            {"role": "system", "content": "Be {{tone}} & brief"},
            {"type": "placeholder", "name": "history", "optional": True},
            {"role": "user", "content": "{{question}}"},
            {"role": "assistant", "content": "Sure:"},
        ],
    )
    template = to_langchain(vault.get("c"))
    assert isinstance(template, ChatPromptTemplate)
    assert template.messages[1] == MessagesPlaceholder("history", optional=True)
    variables = {"tone": "kind <3", "question": "why?"}
    history = [{"role": "user", "content": "{{tone}} earlier"}]
    expected = vault.render("c", variables, placeholders={"history": history})
    messages = template.format_messages(**variables, history=[HumanMessage("{{tone}} earlier")])
    assert [m.content for m in messages] == [m["content"] for m in expected]
    assert [type(m) for m in messages] == [SystemMessage, HumanMessage, HumanMessage, AIMessage]
    assert len(template.format_messages(**variables)) == 3  # the placeholder is optional


def test_langfuse_and_jinja_syntaxes(vault: Vault) -> None:
    vault.push("lf", template="Hi {{ name }} {braces} {{missing", syntax="langfuse")
    template = to_langchain(vault.get("lf"))
    assert template.template_format == "f-string"
    assert template.format(name="Ada") == vault.render("lf", {"name": "Ada"})
    vault.push("j", template="{% for x in xs %}{{ x|upper }} {% endfor %}", syntax="jinja")
    assert to_langchain(vault.get("j")).format(xs=["a", "b"]) == vault.render(
        "j", {"xs": ["a", "b"]}
    )


def test_built_request_is_fixed_messages(vault: Vault) -> None:
    vault.push(
        "b",
        template=[
            {"role": "system", "content": "Sys {{x}} {literal}"},
            {"role": "user", "content": "{{y}}"},
        ],
    )
    built = vault.build("b", {"x": "X", "y": "{{not a var}}"})
    messages = to_langchain(built).format_messages()
    assert [(type(m), m.content) for m in messages] == [
        (SystemMessage, "Sys X {literal}"),
        (HumanMessage, "{{not a var}}"),
    ]


def test_refusals(vault: Vault) -> None:
    vault.push("d", template="{{=<% %>=}}<%x%>")
    with pytest.raises(InvalidInputError, match="set-delimiter"):
        to_langchain(vault.get("d"))
    with pytest.raises(InvalidInputError, match="PromptVersion or a BuiltRequest"):
        to_langchain("text")  # type: ignore[arg-type]
