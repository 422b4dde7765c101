"""Property tests: values are never re-read as template text; arbitrary input never crashes."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptvault.errors import TemplateError
from promptvault.templating import compile_template, render
from promptvault.templating.mustache import MustacheTemplate

# Text rich in Mustache syntax, so generated values and templates look like real attacks.
MUSTACHE_TEXT = st.text(
    alphabet=st.sampled_from(list("{}#^/>&<$!=*. \n\tab")) | st.characters(),
    max_size=60,
)

PARTIALS = {"p": "[{{a}}]", "loop": "{{>loop}}", "rec": "{{#a}}{{>rec}}{{/a}}", "x": "{{"}


@settings(max_examples=200, deadline=None)
@given(a=MUSTACHE_TEXT, b=MUSTACHE_TEXT, items=st.lists(MUSTACHE_TEXT, max_size=4))
def test_values_come_out_literally(a: str, b: str, items: list[str]) -> None:
    t = compile_template(
        "<{{a}}|{{{b}}}|{{#items}}({{.}}){{/items}}|{{>p}}>", partials={"p": "[{{b}}]"}
    )
    expected = f"<{a}|{b}|" + "".join(f"({i})" for i in items) + f"|[{b}]>"
    assert t.render({"a": a, "b": b, "items": items}) == expected


@settings(max_examples=100, deadline=None)
@given(values=st.lists(MUSTACHE_TEXT, min_size=10, max_size=10))
def test_values_come_out_literally_in_long_runs(values: list[str]) -> None:
    source = "".join(f"{{{{v{i}}}}}|" for i in range(10))
    data = {f"v{i}": v for i, v in enumerate(values)}
    assert render(source, data) == "".join(f"{v}|" for v in values)


@settings(max_examples=100, deadline=None)
@given(value=MUSTACHE_TEXT)
def test_html_mode_escapes_values_and_never_parses_them(value: str) -> None:
    out = compile_template("{{v}}", escape="html").render({"v": value})
    assert "<" not in out and ">" not in out and '"' not in out
    assert (
        out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
        == value
    )


DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | MUSTACHE_TEXT,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "p", "x", "."]), inner, max_size=3)
    ),
    max_leaves=8,
)


# Pieces of real syntax, so random sequences reach deep into the parser and compiler
# (sections, inheritance, delimiters, standalone lines) far more often than random text.
TOKENS = st.sampled_from(
    [
        "{{#a}}",
        "{{/a}}",
        "{{^b}}",
        "{{/b}}",
        "{{<p}}",
        "{{/p}}",
        "{{$a}}",
        "{{$b}}",
        "{{>p}}",
        "{{>rec}}",
        "{{>*x}}",
        "{{<*x}}",
        "{{/*x}}",
        "{{a}}",
        "{{.}}",
        "{{a.b}}",
        "{{{a}}}",
        "{{&b}}",
        "{{!c}}",
        "{{=<% %>=}}",
        "<%a%>",
        "<%={{ }}=%>",
        "{{",
        "}}",
        "\n",
        "\r\n",
        "  ",
        "text",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=MUSTACHE_TEXT, data=st.dictionaries(st.sampled_from(["a", "b", "x"]), DATA))
def test_arbitrary_input_raises_only_template_errors(source: str, data: dict[str, Any]) -> None:
    for strict in (True, False):
        try:
            out = render(source, data, strict=strict, partials=PARTIALS)
        except TemplateError:
            continue
        assert isinstance(out, str)


@settings(max_examples=300, deadline=None)
@given(
    tokens=st.lists(TOKENS, max_size=14),
    data=st.sampled_from(
        [{}, {"a": [1, {"a": None}], "b": "v", "x": "p"}, {"a": {"b": "{{a}}"}, "x": "rec"}]
    ),
)
def test_syntax_soup_raises_only_template_errors(tokens: list[str], data: dict[str, Any]) -> None:
    source = "".join(tokens)
    for strict in (True, False):
        try:
            out = render(source, data, strict=strict, partials=PARTIALS)
        except TemplateError:
            continue
        assert isinstance(out, str)


@settings(max_examples=200, deadline=None)
@given(source=st.text(max_size=80))
def test_arbitrary_unicode_compiles_or_fails_cleanly(source: str) -> None:
    try:
        template = MustacheTemplate(source, partials=PARTIALS, escape="html")
        template.render({"a": [1, {"a": None}], "b": "v"}, strict=False)
        assert isinstance(template.variables, frozenset)
        assert template.schema()["type"] == "object"
    except TemplateError:
        pass
