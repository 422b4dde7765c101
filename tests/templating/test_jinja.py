"""Jinja templates: rendering, strictness, variables, inferred schema, partials, errors."""

from __future__ import annotations

from typing import Any

import pytest

from promptvault.errors import (
    InvalidInputError,
    MissingVariablesError,
    TemplateError,
    TemplateLimitError,
    TemplateSyntaxError,
)
from promptvault.templating import Limits, compile_template, render
from promptvault.templating.jinja import JinjaTemplate


def jinja(source: str, **options: Any) -> Any:
    return compile_template(source, syntax="jinja", **options)


# --- rendering ----------------------------------------------------------------------------


def test_renders_variables_loops_and_conditions() -> None:
    t = jinja(
        "Hi {{ user.name }}!\n"
        "{% for ex in examples %}Q: {{ ex.input }} A: {{ ex.output }}\n{% endfor %}"
        "{% if vip %}VIP{% else %}regular{% endif %}"
    )
    out = t.render(
        {
            "user": {"name": "Ada"},
            "examples": [{"input": "1+1", "output": "2"}, {"input": "2+2", "output": "4"}],
            "vip": False,
        }
    )
    assert out == "Hi Ada!\nQ: 1+1 A: 2\nQ: 2+2 A: 4\nregular"


def test_keeps_trailing_newline_and_does_not_escape_by_default() -> None:
    assert jinja("<b>{{ x }}</b>\n").render({"x": "a & <b>"}) == "<b>a & <b></b>\n"


def test_html_escape_option() -> None:
    assert jinja("{{ x }}", escape="html").render({"x": "<a href='x'>&"}) == (
        "&lt;a href=&#39;x&#39;&gt;&amp;"
    )


def test_non_string_values_render_for_prompts() -> None:
    t = jinja("{{ n }}|{{ f }}|{{ none }}|{{ d }}|{{ items }}")
    out = t.render({"n": 3, "f": 2.5, "none": None, "d": {"a": "é"}, "items": [1, None]})
    assert out == '3|2.5||{"a": "é"}|[1, null]'


def test_values_are_never_reinterpreted_as_template_text() -> None:
    t = jinja("{{ a }} {{ b }}")
    out = t.render({"a": "{{ b }}", "b": "{% include 'x' %}{{ ''.__class__ }}"})
    assert out == "{{ b }} {% include 'x' %}{{ ''.__class__ }}"


def test_render_helper_uses_the_cache_and_passes_strict() -> None:
    assert render("{{ a }}-{{ b }}", {"a": 1, "b": 2}, syntax="jinja") == "1-2"
    assert render("{{ a }}-{{ b }}", {"a": 1}, syntax="jinja", strict=False) == "1-"
    with pytest.raises(MissingVariablesError):
        render("{{ a }}-{{ b }}", {"a": 1}, syntax="jinja")


def test_data_must_be_a_mapping() -> None:
    with pytest.raises(InvalidInputError) as err:
        jinja("{{ a }}").render(["a"])  # type: ignore[arg-type]
    assert err.value.details["field"] == "data"


# --- strictness ---------------------------------------------------------------------------


def test_strict_reports_every_missing_name_with_position_before_output() -> None:
    t = jinja("Hello {{ name }},\n  {{ greeting }} {{ name }}\n{% for x in items %}{% endfor %}")
    with pytest.raises(MissingVariablesError) as err:
        t.render({})
    missing = {m["name"]: m for m in err.value.missing}
    assert set(missing) == {"name", "greeting", "items"}
    assert (missing["name"]["line"], missing["name"]["column"]) == (1, 10)
    assert (missing["greeting"]["line"], missing["greeting"]["column"]) == (2, 6)
    assert missing["items"]["line"] == 3
    assert err.value.code == "missing_variables"
    assert err.value.names == ["greeting", "items", "name"]


def test_strict_missing_attribute_found_while_rendering() -> None:
    t = jinja("{% for u in users %}\n{{ u.name }} <{{ u.email }}>\n{% endfor %}")
    with pytest.raises(MissingVariablesError) as err:
        t.render({"users": [{"name": "a", "email": "x"}, {"name": "b"}]})
    assert err.value.missing == [{"name": "u.email", "line": 2, "column": 18}]


def test_none_is_present_but_empty_in_strict_mode() -> None:
    assert jinja("[{{ x }}]").render({"x": None}) == "[]"


def test_lenient_renders_missing_names_empty_even_nested() -> None:
    t = jinja("[{{ a }}|{{ b.c.d }}|{% for x in xs %}{{ x }}{% endfor %}]")
    assert t.render({}, strict=False) == "[||]"
    # strict and lenient renders of the same compiled template stay independent
    with pytest.raises(MissingVariablesError):
        t.render({})
    assert t.render({"a": 1, "b": {"c": {"d": 2}}, "xs": [3]}) == "[1|2|3]"


def test_guarded_names_are_not_required() -> None:
    t = jinja(
        "{% if nick is defined %}{{ nick }}{% else %}{{ name }}{% endif %}"
        "{{ title|default('') }}"
        "{% if extra is undefined %}-{% else %}{{ extra }}{% endif %}"
    )
    assert t.render({"name": "Ada"}) == "Ada-"
    assert t.render({"name": "Ada", "nick": "A", "title": "Dr", "extra": "!"}) == "ADr!"
    with pytest.raises(MissingVariablesError) as err:
        t.render({})
    assert err.value.names == ["name"]
    assert t.variables == {"nick", "name", "title", "extra"}


# --- variables and schema ---------------------------------------------------------------


def test_variables_exclude_locals_and_globals() -> None:
    t = jinja(
        "{% set greeting = 'hi' %}{{ greeting }} {{ who }}"
        "{% for i in range(n) %}{{ loop.index }}{{ i }}{% endfor %}"
        "{% macro m(a) %}{{ a }}{{ z }}{% endmacro %}{{ m(1) }}{{ dict(k=1).k }}"
    )
    assert t.variables == {"who", "n", "z"}


def test_schema_infers_arrays_objects_and_strings() -> None:
    t = jinja(
        "{{ company }}{% for ex in examples %}{{ ex.input }}{{ ex.meta.tag }}{% endfor %}"
        "{% if urgent %}!{% endif %}{{ user.profile.name|upper }}{{ tags|join(', ') }}"
        "{{ note|default('') }}{% for k, v in settings.items() %}{{ k }}={{ v }}{% endfor %}"
    )
    assert t.schema() == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "company": {"type": "string"},
            "examples": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "input": {"type": "string"},
                        "meta": {
                            "type": "object",
                            "properties": {"tag": {"type": "string"}},
                            "required": ["tag"],
                        },
                    },
                    "required": ["input", "meta"],
                },
            },
            "note": {"type": "string"},
            "settings": {"type": "object", "properties": {}},
            "tags": {"type": "array", "items": {}},
            "urgent": {},
            "user": {
                "type": "object",
                "properties": {
                    "profile": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"],
                    }
                },
                "required": ["profile"],
            },
        },
        "required": ["company", "examples", "settings", "tags", "urgent", "user"],
    }


def test_schema_returns_a_fresh_copy() -> None:
    t = jinja("{{ a }}")
    t.schema()["properties"]["a"]["type"] = "integer"
    assert t.schema()["properties"]["a"] == {"type": "string"}


def test_schema_follows_aliases_and_sorted_loops() -> None:
    t = jinja("{% set u = user %}{{ u.name }}{% for r in rows|sort %}{{ r.id }}{% endfor %}")
    props = t.schema()["properties"]
    assert props["user"]["properties"] == {"name": {"type": "string"}}
    assert props["rows"]["items"]["properties"] == {"id": {"type": "string"}}


# --- partials -----------------------------------------------------------------------------


def test_include_partials_from_mapping_and_their_variables() -> None:
    partials = {"safety": "Be safe, {{ name }}.", "row": "- {{ item }}\n"}
    t = jinja(
        "{% include 'safety' %}\n{% for item in items %}{% include 'row' %}{% endfor %}",
        partials=partials,
    )
    assert t.variables == {"name", "items"}
    assert t.render({"name": "Ada", "items": ["a", "b"]}) == "Be safe, Ada.\n- a\n- b\n"
    with pytest.raises(MissingVariablesError) as err:
        t.render({"items": []})
    assert err.value.missing == [{"name": "name", "line": 1, "column": 13, "template": "safety"}]


def test_extends_and_blocks_through_partials() -> None:
    partials = {"base": "<{% block body %}default{% endblock %}>{{ footer }}"}
    t = jinja("{% extends 'base' %}{% block body %}{{ msg }}{% endblock %}", partials=partials)
    assert t.render({"msg": "hi", "footer": "."}) == "<hi>."
    assert t.variables == {"msg", "footer"}


def test_callable_partials_and_unknown_partial() -> None:
    calls: list[str] = []

    def resolve(name: str) -> str | None:
        calls.append(name)
        return "[{{ v }}]" if name == "known" else None

    assert jinja("{% include 'known' %}", partials=resolve).render({"v": 1}) == "[1]"
    assert "known" in calls
    with pytest.raises(TemplateSyntaxError) as err:
        jinja("ok\n  {% include 'nope' %}", partials=resolve)
    assert err.value.details["partial"] == "nope"
    assert (err.value.line, err.value.column) == (2, 15)
    assert jinja("{% include 'nope' ignore missing %}x", partials=resolve).render({}) == "x"


def test_dynamic_partial_name_resolved_at_render() -> None:
    t = jinja("{% include which %}", partials={"a": "A{{ x }}", "b": "B"})
    assert t.render({"which": "a", "x": 1}) == "A1"
    assert t.render({"which": "b"}) == "B"
    with pytest.raises(TemplateSyntaxError) as err:
        t.render({"which": "zzz"})
    assert err.value.details["partial"] == "zzz"


def test_partial_recursion_is_limited_by_depth() -> None:
    partials = {"loop": "x{% include 'loop' %}"}
    with pytest.raises(TemplateLimitError) as err:
        jinja("{% include 'loop' %}", partials=partials, limits=Limits(max_depth=5)).render({})
    assert err.value.details["limit"] == "max_depth"
    # bounded recursion below the limit is fine
    tree = {"node": "{{ n.name }}{% for n in n.kids %}({% include 'node' %}){% endfor %}"}
    data = {"n": {"name": "a", "kids": [{"name": "b", "kids": [{"name": "c", "kids": []}]}]}}
    assert jinja("{% include 'node' %}", partials=tree).render(data) == "a(b(c))"


def test_syntax_error_in_partial_names_the_partial() -> None:
    with pytest.raises(TemplateSyntaxError) as err:
        jinja("{% include 'bad' %}", partials={"bad": "ok\n{% if x %}never closed"})
    assert err.value.details["template"] == "bad"
    assert err.value.line == 2


# --- syntax errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "line", "column", "words"),
    [
        ("Hello {{ name }", 1, 15, "unexpected '}'"),
        ("a\n{% if x %}\nb", 2, 1, "unclosed 'if'"),
        ("{% for x in xs %}\n  {% endif %}", 2, 6, "endif"),
        ("x\n{% frobnicate %}", 2, 4, "unknown tag 'frobnicate'"),
        ("{{ x | nosuchfilter }}", 1, 8, "nosuchfilter"),
        ("{{ }}", 1, 1, "expected an expression"),
    ],
)
def test_syntax_errors_have_line_column_excerpt(
    source: str, line: int, column: int, words: str
) -> None:
    with pytest.raises(TemplateSyntaxError) as err:
        jinja(source)
    e = err.value
    assert (e.line, e.column) == (line, column)
    assert words.lower() in e.message.lower()
    assert e.code == "template_syntax"
    excerpt = e.details["excerpt"].splitlines()
    assert excerpt[0] == source.splitlines()[line - 1]
    assert excerpt[1] == " " * (column - 1) + "^"


def test_deeply_nested_expression_is_a_template_error() -> None:
    with pytest.raises(TemplateError):
        jinja("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")


def test_runtime_python_error_becomes_template_error_with_line() -> None:
    with pytest.raises(TemplateError) as err:
        jinja("ok\n{{ 1 // zero }}").render({"zero": 0})
    assert err.value.details == {"error": "ZeroDivisionError", "line": 2}
    assert type(err.value) is TemplateError


# --- limits -------------------------------------------------------------------------------


def test_output_limit_stops_streaming_render() -> None:
    t = jinja(
        "{% for i in range(100) %}{{ chunk }}{% endfor %}", limits=Limits(max_output_bytes=1000)
    )
    assert len(t.render({"chunk": "x" * 10})) == 1000
    with pytest.raises(TemplateLimitError) as err:
        t.render({"chunk": "x" * 11})
    assert err.value.details["limit"] == "max_output_bytes"


def test_output_limit_counts_utf8_bytes() -> None:
    t = jinja("{{ s }}", limits=Limits(max_output_bytes=100))
    assert t.render({"s": "é" * 50}) == "é" * 50
    with pytest.raises(TemplateLimitError):
        t.render({"s": "é" * 51})


def test_range_limit_is_configurable() -> None:
    t = jinja("{% for i in range(n) %}.{% endfor %}", limits=Limits(max_range=5))
    assert t.render({"n": 5}) == "....."
    with pytest.raises(TemplateLimitError) as err:
        t.render({"n": 6})
    assert err.value.details == {"limit": "max_range", "value": 6, "max": 5}


def test_step_budget_counts_loop_iterations() -> None:
    t = jinja(
        "{% for a in xs %}{% for b in xs %}{% endfor %}{% endfor %}", limits=Limits(max_steps=500)
    )
    t.render({"xs": list(range(20))})  # 20 + 20*20 = 420 steps
    with pytest.raises(TemplateLimitError) as err:
        t.render({"xs": list(range(30))})
    assert err.value.details["limit"] == "max_steps"


def test_direct_construction_matches_compile_template() -> None:
    t = JinjaTemplate("{{ a }}", escape="html")
    assert t.syntax == "jinja"
    assert t.render({"a": "<"}) == "&lt;"
    assert "JinjaTemplate" in repr(t)


def test_too_many_tags_are_refused_before_jinja_parses() -> None:
    # An unclosed block first: had Jinja parsed the source, this would be a syntax error.
    source = "{% if x %}\n" + "{{ a }}{% if b %}{% endif %}{# c #}\n" * 3_334
    with pytest.raises(TemplateLimitError) as err:
        jinja(source)
    assert err.value.details == {"limit": "max_tags", "max": 10_000, "line": 2_501}
    limits = Limits(max_tags=50)
    with pytest.raises(TemplateLimitError) as err:
        jinja("{{ a }}" * 51, limits=limits)
    assert err.value.details["limit"] == "max_tags"
    assert jinja("{{ a }}" * 50, limits=limits).render({"a": 1}) == "1" * 50
    # "{{%" starts one tag, not two: the exact count decides at the boundary.
    assert jinja("{{ '%' }}" * 50, limits=limits).render({}) == "%" * 50


def test_too_many_tags_in_a_partial_name_the_partial() -> None:
    limits = Limits(max_tags=50)
    with pytest.raises(TemplateLimitError) as err:
        jinja("{% include 'p' %}", partials={"p": "{{ a }}" * 51}, limits=limits)
    assert err.value.details["limit"] == "max_tags"
    assert "'p'" in str(err.value)
    dynamic = jinja("{% include which %}", partials={"p": "{{ a }}" * 51}, limits=limits)
    with pytest.raises(TemplateLimitError) as err:
        dynamic.render({"which": "p", "a": 1})
    assert err.value.details["limit"] == "max_tags"
