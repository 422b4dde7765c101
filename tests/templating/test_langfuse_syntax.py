"""The ``langfuse`` syntax renders exactly what the Langfuse SDK's ``compile()`` renders."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langfuse.model import TemplateParser

from promptvault.errors import TemplateLimitError
from promptvault.templating import compile_chat, compile_template
from promptvault.templating.base import Limits

TRICKY: list[tuple[str, dict[str, Any]]] = [
    ("Hi {{name}}", {"name": "<b>Ada</b> & 'co'"}),  # no HTML escaping
    ("Hi {{name}} {{missing}}", {"name": "x"}),  # missing stays as written
    ("{{ spaced }}|{{spaced}}", {"spaced": 1}),
    ("{{n}} {{f}} {{b}} {{none}}", {"n": 3, "f": 1.5, "b": True, "none": None}),
    ("{{d}} {{l}}", {"d": {"k": [1, "x"]}, "l": [1, None]}),  # Python's str(), not JSON
    ("{{#section}}x{{/section}}", {"#section": "S", "/section": "E"}),  # no sections
    ("{{{triple}}}", {"{triple": "T"}),
    ("{{a}}{{b}}", {"a": "{{b}}", "b": "B"}),  # a value is never read as template
    ("open {{ never closed", {"never closed": "x"}),
    ("}} {{}} {{ }}", {"": "empty"}),
    ("{{user name}}", {"user name": "Ada"}),
    ("", {"x": 1}),
    ("no tags at all", {}),
]


@pytest.mark.parametrize(("source", "data"), TRICKY)
def test_tricky_inputs_match_langfuse(source: str, data: dict[str, Any]) -> None:
    expected = TemplateParser.compile_template(source, data)
    template = compile_template(source, syntax="langfuse")
    assert template.render(data) == expected
    assert template.render(data, strict=False) == expected
    assert template.variables == frozenset(TemplateParser.find_variable_names(source))


_pieces = st.sampled_from(["{{", "}}", "{", "}", " ", "a", "b", "<&>", "\n", "{{a}}", "{{ b }}"])


@settings(max_examples=300, deadline=None)
@given(
    source=st.lists(_pieces, max_size=12).map("".join),
    data=st.dictionaries(
        st.sampled_from(["a", "b", "", "{a", " a"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=5), st.booleans()),
    ),
)
def test_any_template_matches_langfuse(source: str, data: dict[str, Any]) -> None:
    assert compile_template(source, syntax="langfuse").render(data) == (
        TemplateParser.compile_template(source, data)
    )


def test_chat_messages_use_the_syntax() -> None:
    chat = compile_chat(
        [
            {"role": "system", "content": "Be {{tone}} <{{missing}}>"},
            {"type": "placeholder", "name": "history", "optional": True},
        ],
        syntax="langfuse",
    )
    assert chat.render({"tone": None}) == [{"role": "system", "content": "Be  <{{missing}}>"}]
    assert chat.variables == {"tone", "missing"}
    assert chat.schema() == {"type": "object", "properties": {"missing": {}, "tone": {}}}


def test_limits_hold() -> None:
    with pytest.raises(TemplateLimitError):
        compile_template("{{a}}" * 3, syntax="langfuse", limits=Limits(max_tags=2))
    template = compile_template("{{a}}{{a}}", syntax="langfuse", limits=Limits(max_output_bytes=8))
    with pytest.raises(TemplateLimitError):
        template.render({"a": "12345"})
