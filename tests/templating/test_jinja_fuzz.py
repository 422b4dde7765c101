"""Fuzz: whatever text is compiled and rendered as Jinja, only TemplateError escapes."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from promptvault.errors import TemplateError
from promptvault.templating import Limits, compile_template

TOKENS = [
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{%-",
    "-%}",
    " ",
    "\n",
    "for",
    "in",
    "endfor",
    "if",
    "elif",
    "else",
    "endif",
    "set",
    "=",
    "x",
    "items",
    "d",
    "'a'",
    '"b"',
    "1",
    "0",
    "-1",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ".",
    ",",
    ":",
    "|",
    "upper",
    "join",
    "length",
    "default",
    "attr",
    "format",
    "map",
    "batch",
    "center",
    "indent",
    "replace",
    "*",
    "**",
    "~",
    "+",
    "/",
    "//",
    "%",
    "range",
    "include",
    "'p'",
    "'loop'",
    "'nope'",
    "macro",
    "endmacro",
    "call",
    "endcall",
    "caller",
    "raw",
    "endraw",
    "__class__",
    "_x",
    "mro",
    "loop",
    "self",
    "dict",
    "extends",
    "block",
    "endblock",
    "with",
    "endwith",
    "import",
    "from",
    "as",
    "filter",
    "endfilter",
    "is",
    "defined",
    "not",
    "and",
    "or",
    "none",
    "true",
    "recursive",
    "9" * 12,
    "\\x5f",
    "namespace",
    "config",
    "get",
    "items()",
    "keys",
    "super()",
]

jinja_like = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=3)), max_size=40).map(
    "".join
)

DATA: dict[str, Any] = {
    "x": "value {{ x }}",
    "items": [1, "a", {"k": 2}, None],
    "d": {"k": [1, 2], "s": "t"},
}
PARTIALS = {"p": "<{{ x }}>", "loop": "{% include 'loop' %}"}
LIMITS = Limits(max_output_bytes=100_000, max_range=1_000, max_steps=20_000, max_depth=8)


def _compile_and_render(source: str) -> None:
    try:
        template = compile_template(source, syntax="jinja", partials=PARTIALS, limits=LIMITS)
    except TemplateError:
        return
    assert isinstance(template.variables, frozenset)
    assert isinstance(template.schema(), dict)
    for strict in (True, False):
        try:
            out = template.render(DATA, strict=strict)
        except TemplateError:
            continue
        assert isinstance(out, str)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(source=jinja_like)
@example(source="{% for i in range(999) %}{% for j in range(999) %}{% endfor %}{% endfor %}")
@example(source="{{ 'a' * 999999999999 }}")
@example(source="{% include 'loop' %}")
@example(source="{{ d|attr('_' ~ '_class__') }}")
@example(source="{{ x[" + "(" * 3000)
@example(source="{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}")
@example(source="{{ 1 / 0 }}{{ none.x }}{{ items[99] }}{{ d.k.z.q }}")
@example(source="{% extends 'nope' %}")
@example(source="{{ '%s %s'|format(1) }}{{ int }}{{ '{0}'.format() }}")
def test_jinja_raises_only_template_errors(source: str) -> None:
    _compile_and_render(source)


@settings(max_examples=100, deadline=None)
@given(source=st.text(max_size=200))
def test_arbitrary_unicode_raises_only_template_errors(source: str) -> None:
    _compile_and_render(source)
