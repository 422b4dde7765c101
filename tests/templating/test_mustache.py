"""The Mustache engine's prompt-oriented behaviour: strictness, values, errors, partials, limits."""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import date
from typing import Any

import jsonschema
import pytest

from promptvault.errors import (
    MissingVariablesError,
    PromptVaultError,
    TemplateError,
    TemplateLimitError,
    TemplateSyntaxError,
    error_from_payload,
)
from promptvault.templating import Limits, Template, compile_template, render
from promptvault.templating.mustache import MustacheTemplate

# --- defaults --------------------------------------------------------------------------


def test_defaults_are_for_prompts_no_escaping_and_strict() -> None:
    t = compile_template("Say {{text}} to {{who}}")
    assert isinstance(t, Template)
    assert t.syntax == "mustache"
    assert t.render({"text": "<b>&'\"", "who": "Ada"}) == "Say <b>&'\" to Ada"
    with pytest.raises(MissingVariablesError):
        t.render({"text": "x"})


def test_html_escape_when_asked() -> None:
    t = compile_template("{{v}}|{{{v}}}|{{&v}}", escape="html")
    assert t.render({"v": '<a href="x">&</a>'}) == (
        '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;|<a href="x">&</a>|<a href="x">&</a>'
    )


def test_unknown_escape_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="escape"):
        MustacheTemplate("x", escape="xml")  # type: ignore[arg-type]


# --- strict mode -----------------------------------------------------------------------


def test_strict_lists_every_missing_name_with_line_and_column() -> None:
    source = "Hi {{name}},\n{{#items}}- {{title}} ({{price}})\n{{/items}}Bye {{sender.name}}"
    t = compile_template(source)
    with pytest.raises(MissingVariablesError) as info:
        t.render({"items": [{"title": "a"}, {"title": "b"}], "sender": {}})
    err = info.value
    assert err.missing == [
        {"name": "name", "line": 1, "column": 4},
        {"name": "price", "line": 2, "column": 24},
        {"name": "sender.name", "line": 3, "column": 15},
    ]
    assert err.names == ["name", "price", "sender.name"]
    assert err.code == "missing_variables"
    assert "price (line 2, column 24)" in str(err)


def test_missing_error_survives_a_json_round_trip() -> None:
    with pytest.raises(MissingVariablesError) as info:
        compile_template("{{a}} {{b}}").render({"a": 1})
    rebuilt = error_from_payload({"error": json.loads(json.dumps(info.value.to_dict()))})
    assert isinstance(rebuilt, MissingVariablesError)
    assert rebuilt.missing == [{"name": "b", "line": 1, "column": 7}]


def test_section_over_missing_key_is_an_error_in_strict_mode() -> None:
    t = compile_template("{{#examples}}{{input}}{{/examples}}")
    with pytest.raises(MissingVariablesError) as info:
        t.render({})
    assert info.value.names == ["examples"]
    assert t.render({}, strict=False) == ""


@pytest.mark.parametrize("value", [False, [], None, 0, "", {}])
def test_explicit_falsy_section_value_is_not_missing(value: Any) -> None:
    t = compile_template("[{{#flag}}yes{{/flag}}{{^flag}}no{{/flag}}]")
    assert t.render({"flag": value}) == "[no]"


def test_inverted_section_over_missing_key_is_an_error_in_strict_mode() -> None:
    t = compile_template("{{^premium}}Upgrade!{{/premium}}")
    with pytest.raises(MissingVariablesError) as info:
        t.render({})
    assert info.value.names == ["premium"]
    assert t.render({}, strict=False) == "Upgrade!"


def test_none_is_present_but_empty_in_strict_mode() -> None:
    assert compile_template("[{{v}}]").render({"v": None}) == "[]"
    assert compile_template("[{{a.b}}]").render({"a": {"b": None}}) == "[]"


def test_non_strict_renders_missing_as_empty() -> None:
    t = compile_template("a={{a}} b={{b.c}} c={{#c}}x{{/c}}")
    assert t.render({"b": {}}, strict=False) == "a= b= c="


def test_names_are_found_through_the_context_stack() -> None:
    t = compile_template("{{#items}}{{name}} at {{company}}; {{/items}}")
    data = {"company": "Acme", "items": [{"name": "a"}, {"name": "b", "company": "Beta"}]}
    assert t.render(data) == "a at Acme; b at Beta; "


def test_missing_name_inside_partial_names_the_partial() -> None:
    t = compile_template("{{>footer}}", partials={"footer": "\n  -- {{signature}}"})
    with pytest.raises(MissingVariablesError) as info:
        t.render({})
    assert info.value.missing == [
        {"name": "signature", "line": 2, "column": 6, "template": "footer"}
    ]


def test_dotted_name_resolves_first_part_on_stack_rest_on_that_object() -> None:
    t = compile_template("{{#inner}}{{user.name}}{{/inner}}")
    data = {"user": {"name": "outer"}, "inner": {"user": {"id": 1}}}
    assert t.render(data, strict=False) == ""  # found user in inner: no fall back outward
    with pytest.raises(MissingVariablesError):
        t.render(data)


# --- values ----------------------------------------------------------------------------


def test_scalar_values_use_str() -> None:
    t = compile_template("{{i}} {{f}} {{t}} {{n}} {{big}}")
    data = {"i": 42, "f": 0.5, "t": True, "n": False, "big": 10**20}
    assert t.render(data) == "42 0.5 True False 100000000000000000000"


def test_containers_interpolate_as_json() -> None:
    t = compile_template("{{d}} | {{l}} | {{t}}")
    data = {"d": {"city": "Zürich", "n": [1, 2]}, "l": ["a", None], "t": (1, "b")}
    assert t.render(data) == '{"city": "Zürich", "n": [1, 2]} | ["a", null] | [1, "b"]'


def test_json_of_exotic_values_falls_back_to_str() -> None:
    t = compile_template("{{d}}")
    assert t.render({"d": {"day": date(2024, 1, 2)}}) == '{"day": "2024-01-02"}'
    looped: dict[str, Any] = {}
    looped["self"] = looped
    assert t.render({"d": looped}) == str(looped)


def test_mapping_types_other_than_dict_work_everywhere() -> None:
    data = OrderedDict(a="1", items=[OrderedDict(x="2")], m=OrderedDict(k="v"))
    t = compile_template("{{a}} {{#items}}{{x}}{{/items}} {{m.k}} {{m}}")
    assert t.render(data) == '1 2 v {"k": "v"}'


def test_sections_iterate_lists_and_push_other_values() -> None:
    t = compile_template("{{#xs}}<{{.}}>{{/xs}} {{#obj}}{{k}}{{/obj}} {{#s}}[{{.}}]{{/s}}")
    data = {"xs": [1, "two", 3.0], "obj": {"k": "v"}, "s": "str"}
    assert t.render(data) == "<1><two><3.0> v [str]"
    assert compile_template("{{#r}}{{.}}{{/r}}").render({"r": range(3)}) == "012"


def test_lookups_never_touch_attributes() -> None:
    class Secretive:
        password = "hunter2"

    t = compile_template("[{{obj.password}}][{{d.__class__}}][{{d.keys}}]")
    out = t.render({"obj": Secretive(), "d": {}}, strict=False)
    assert out == "[][][]"
    with pytest.raises(MissingVariablesError) as info:
        t.render({"obj": Secretive(), "d": {}})
    assert info.value.names == ["d.__class__", "d.keys", "obj.password"]


# --- single pass -----------------------------------------------------------------------


def test_values_are_never_read_as_template_text() -> None:
    t = compile_template("{{a}} {{{b}}} {{#items}}{{.}}{{/items}} {{>p}}", partials={"p": "{{c}}"})
    data = {
        "a": "{{secret}}",
        "b": "{{> p}}",
        "items": ["{{#x}}", "{{=<% %>=}}"],
        "c": "{{a}}",
        "secret": "LEAK",
    }
    assert t.render(data) == "{{secret}} {{> p}} {{#x}}{{=<% %>=}} {{a}}"


# --- syntax errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "phrase", "line", "column"),
    [
        ("Hello\n  {{name", "unclosed tag", 2, 3),
        ("{{#items}}\n- {{.}}\n", "unclosed section {{#items}}", 1, 1),
        ("{{#a}}\n{{#b}}\n{{/a}}", "mismatched close tag: {{/a}} cannot close {{#b}}", 3, 1),
        ("ok {{/a}}", "close tag {{/a}} has no open section", 1, 4),
        ("x\ny {{%pragma}}", "unknown tag type '%'", 2, 3),
        ("{{=<% =}}", "bad delimiter change", 1, 1),
        ("{{=<% % %>=}}", "bad delimiter change", 1, 1),
        ("{{=<%= %>=}}", "bad delimiter change", 1, 1),
        ("{{a b}}", "contains whitespace", 1, 1),
        ("{{}}", "empty tag", 1, 1),
        ("{{#}}{{/}}", "empty {{#}} tag", 1, 1),
        ("{{a..b}}", "bad dotted name", 1, 1),
        ("{{{a}}", "unclosed tag", 1, 1),
        ("{{=<% %>=}}\n<%a", "unclosed tag: <% has no matching %>", 2, 1),
        ("{{< parent}}{{$b}}x{{/b}}", "unclosed section {{<parent}}", 1, 1),
        ("{{>*}}", "bad dynamic name", 1, 1),
    ],
)
def test_syntax_errors_name_line_column_and_show_a_caret(
    source: str, phrase: str, line: int, column: int
) -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        compile_template(source)
    err = info.value
    assert phrase in err.reason
    assert (err.line, err.column) == (line, column)
    assert err.details["line"] == line and err.details["column"] == column
    excerpt_line, caret = err.details["excerpt"].split("\n")
    assert excerpt_line == source.splitlines()[line - 1]
    assert caret == " " * (column - 1) + "^"
    assert err.code == "template_syntax"


def test_syntax_error_inside_a_partial_names_the_partial() -> None:
    t = compile_template("a {{>broken}}", partials={"broken": "ok\n{{#x}}"})
    with pytest.raises(TemplateSyntaxError) as info:
        t.render({})
    assert info.value.details["template"] == "broken"
    assert (info.value.line, info.value.column) == (2, 1)


# --- partials --------------------------------------------------------------------------


def test_partials_from_a_mapping_or_a_callable_with_registry_style_names() -> None:
    sources = {"common/safety": "Be safe.", "tone@production": "Tone: {{tone}}.", "a.b-c": "!"}
    asked: list[str] = []

    def lookup(name: str) -> str | None:
        asked.append(name)
        return sources.get(name)

    text = "{{> common/safety}} {{>tone@production}}{{>a.b-c}}"
    for partials in (sources, lookup):
        t = compile_template(text, partials=partials)
        assert t.render({"tone": "calm"}) == "Be safe. Tone: calm.!"
        assert t.render({"tone": "warm"}) == "Be safe. Tone: warm.!"
    assert sorted(asked) == ["a.b-c", "common/safety", "tone@production"]  # compiled once


def test_unknown_partial_is_an_error_in_strict_mode_and_empty_otherwise() -> None:
    t = compile_template("x{{>nope}}y", partials=lambda name: None)
    with pytest.raises(TemplateSyntaxError) as info:
        t.render({})
    assert info.value.details["partial"] == "nope"
    assert "unknown partial 'nope'" in info.value.reason
    assert t.render({}, strict=False) == "xy"
    assert compile_template("x{{>nope}}y").render({}, strict=False) == "xy"


def test_partial_that_is_not_text_is_refused() -> None:
    t = MustacheTemplate("{{>p}}", partials={"p": 3})  # type: ignore[dict-item]
    with pytest.raises(TemplateSyntaxError, match="not template text"):
        t.render({})


def test_recursive_partial_guarded_by_data_renders() -> None:
    tree = {"name": "root", "kids": [{"name": "a", "kids": [{"name": "b", "kids": []}]}]}
    t = compile_template("{{>node}}", partials={"node": "{{name}}({{#kids}}{{>node}}{{/kids}})"})
    assert t.render(tree) == "root(a(b()))"


def test_unbounded_partial_recursion_hits_the_depth_limit() -> None:
    t = compile_template("{{>loop}}", partials={"loop": "x{{>loop}}"})
    with pytest.raises(TemplateLimitError) as info:
        t.render({})
    assert info.value.details["limit"] == "max_depth"
    assert info.value.details["max"] == 32
    assert info.value.details["partial"] == "loop"


def test_depth_limit_is_configurable_and_counts_inheritance() -> None:
    chain = {f"p{i}": f"{{{{>p{i + 1}}}}}" for i in range(5)} | {"p5": "end"}
    limits = Limits(max_depth=6)
    assert compile_template("{{>p0}}", partials=chain, limits=limits).render({}) == "end"
    with pytest.raises(TemplateLimitError):
        compile_template("{{>p0}}", partials=chain, limits=Limits(max_depth=5)).render({})
    parents = {"a": "{{<b}}{{/b}}", "b": "{{<c}}{{/c}}", "c": "C"}
    assert compile_template("{{<a}}{{/a}}", partials=parents).render({}) == "C"
    with pytest.raises(TemplateLimitError):
        compile_template("{{<a}}{{/a}}", partials=parents, limits=Limits(max_depth=2)).render({})


def test_standalone_partial_indents_its_template_lines_not_values() -> None:
    t = compile_template(
        "Rules:\n  {{>rules}}\nEnd", partials={"rules": "- {{first}}\n- two\n\n- {{{last}}}\n"}
    )
    assert t.render({"first": "one", "last": "3a\n3b"}) == (
        "Rules:\n  - one\n  - two\n\n  - 3a\n3b\nEnd"
    )


def test_dynamic_partial_in_strict_mode_reports_missing_name() -> None:
    t = compile_template("{{>*kind}}", partials={"short": "S"})
    assert t.render({"kind": "short"}) == "S"
    with pytest.raises(MissingVariablesError):
        t.render({})


def test_template_inheritance_for_prompts() -> None:
    partials = {
        "base": "System: {{$role}}You are helpful.{{/role}}\n"
        "{{$rules}}\n- be brief\n{{/rules}}User: {{question}}"
    }
    t = compile_template(
        "{{<base}}\n{{$role}}You are a {{persona}}.{{/role}}\n{{/base}}", partials=partials
    )
    assert t.render({"persona": "pirate", "question": "hi?"}) == (
        "System: You are a pirate.\n- be brief\nUser: hi?"
    )


# --- limits ----------------------------------------------------------------------------


def test_output_limit_in_a_loop_stops_early() -> None:
    t = compile_template(
        "{{#xs}}{{#xs}}{{#xs}}{{v}}{{/xs}}{{/xs}}{{/xs}}", limits=Limits(max_output_bytes=100_000)
    )
    data = {"xs": list(range(100)), "v": "x" * 10}  # would be 10 MB
    with pytest.raises(TemplateLimitError) as info:
        t.render(data)
    details = info.value.details
    assert details["limit"] == "max_output_bytes"
    assert details["max"] == 100_000
    assert 100_000 < details["value"] <= 200_000  # stopped after one outer iteration too many


@pytest.mark.parametrize("source", ["{{v}}", "a {{v}} b {{w.x}}", "{{#s}}{{v}}{{/s}}"])
def test_output_limit_counts_bytes_not_characters(source: str) -> None:
    t = compile_template(source, limits=Limits(max_output_bytes=1000))
    data = {"v": "é" * 400, "w": {"x": ""}, "s": True}  # 400 chars, 800 bytes
    assert len(t.render(data)) >= 400
    with pytest.raises(TemplateLimitError):
        t.render(data | {"v": "é" * 600})


def test_source_size_limit() -> None:
    with pytest.raises(TemplateLimitError) as info:
        compile_template("x" * 101, limits=Limits(max_source_bytes=100))
    assert info.value.details["limit"] == "max_source_bytes"
    with pytest.raises(TemplateLimitError):
        compile_template(
            "{{>p}}", partials={"p": "y" * 101}, limits=Limits(max_source_bytes=100)
        ).render({})


def test_deeply_nested_sections_compile_and_render() -> None:
    depth = 60
    source = "".join(f"{{{{#l{i}}}}}" for i in range(depth)) + "{{v}}"
    source += "".join(f"{{{{/l{i}}}}}" for i in reversed(range(depth)))
    data: dict[str, Any] = {"v": "deep"} | {f"l{i}": True for i in range(depth)}
    assert compile_template(source).render(data) == "deep"


def test_nesting_beyond_the_limit_is_refused() -> None:
    source = "{{#a}}" * 101 + "{{/a}}" * 101
    with pytest.raises(TemplateLimitError):
        compile_template(source)


# --- long runs and fallbacks -----------------------------------------------------------


@pytest.mark.parametrize("count", [3, 8, 64, 65, 150])
def test_runs_of_many_variables_render_every_value(count: int) -> None:
    source = " ".join(f"{{{{v{i}}}}}" for i in range(count))
    data: dict[str, Any] = {f"v{i}": f"<{i}>" for i in range(count)}
    expected = " ".join(f"<{i}>" for i in range(count))
    assert compile_template(source).render(data) == expected
    data["v1"] = 1  # a non-string value takes the conversion path
    data["v2"] = None
    assert compile_template(source).render(data) == expected.replace("<1>", "1").replace("<2>", "")
    html = compile_template(source, escape="html").render(data)
    assert html.split(" ")[:3] == ["&lt;0&gt;", "1", ""]
    del data["v0"]
    with pytest.raises(MissingVariablesError) as info:
        compile_template(source).render(data)
    assert info.value.names == ["v0"]


def test_many_variables_inside_a_section() -> None:
    body = "".join(f"{{{{f{i}}}}}," for i in range(10))
    t = compile_template("{{#rows}}" + body + "\n{{/rows}}")
    rows = [{f"f{i}": i * r for i in range(10)} for r in range(3)]
    assert t.render({"rows": rows}).splitlines()[2] == ",".join(str(2 * i) for i in range(10)) + ","


def test_data_that_is_not_a_mapping() -> None:
    t = compile_template("{{#.}}({{.}}){{/.}}")
    assert t.render([1, 2]) == "(1)(2)"  # type: ignore[arg-type]
    with pytest.raises(MissingVariablesError):
        compile_template("{{a}}").render(None)  # type: ignore[arg-type]


# --- variables and schema --------------------------------------------------------------


def test_variables_are_top_level_names() -> None:
    t = compile_template(
        "{{greeting}} {{user.name}}\n{{#examples}}{{input}} -> {{output}}{{/examples}}"
        "{{^premium}}{{upsell}}{{/premium}}{{! comment }}{{>footer}}{{>*dynamic}}",
        partials={"footer": "-- {{signature}}"},
    )
    assert t.variables == {
        "greeting",
        "user",
        "examples",
        "premium",
        "upsell",
        "signature",
        "dynamic",
    }


def test_schema_describes_the_data_read() -> None:
    t = compile_template(
        "{{greeting}} {{user.name}} {{user.id}}"
        "{{#examples}}{{input}}{{/examples}}{{#tags}}{{.}}{{/tags}}{{#pro}}*{{/pro}}"
    )
    schema = t.schema()
    assert schema == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "examples": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"input": {"type": "string"}},
                    "required": ["input"],
                },
            },
            "greeting": {"type": "string"},
            "pro": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "user": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                "required": ["id", "name"],
            },
        },
        "required": ["examples", "greeting", "pro", "tags", "user"],
    }


def test_schema_validates_data_that_renders() -> None:
    t = compile_template("{{a}} {{#xs}}{{b.c}}{{/xs}}")
    data = {"a": "x", "xs": [{"b": {"c": "y"}}]}
    jsonschema.validate(data, t.schema())
    assert t.render(data) == "x y"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"a": "x"}, t.schema())


def test_recursive_partials_do_not_loop_the_analysis() -> None:
    t = compile_template("{{>node}}", partials={"node": "{{name}}{{#kids}}{{>node}}{{/kids}}"})
    assert t.variables == {"name", "kids"}


# --- the cached render() ---------------------------------------------------------------


def test_render_function_caches_and_passes_options() -> None:
    source = "Hi {{who}} {{v}}"
    assert compile_template(source) is compile_template(source)
    assert render(source, {"who": "Ada", "v": "<"}) == "Hi Ada <"
    assert render(source, {"who": "Ada", "v": "<"}, escape="html") == "Hi Ada &lt;"
    assert render(source, {"who": "Ada"}, strict=False) == "Hi Ada "
    with pytest.raises(MissingVariablesError):
        render(source, {"who": "Ada"})


def test_every_engine_error_is_a_template_error() -> None:
    for cls in (MissingVariablesError, TemplateSyntaxError, TemplateLimitError):
        assert issubclass(cls, TemplateError)
        assert issubclass(cls, PromptVaultError)


# --- the fast lane for text + plain names ----------------------------------------------


def test_plain_name_templates_report_lines_variables_and_schema() -> None:
    source = "\n".join(f"line {i}: {{{{ v{i} }}}}" for i in range(10))
    t = compile_template(source)
    data = {f"v{i}": str(i) for i in range(10)}
    assert t.render(data).splitlines()[7] == "line 7: 7"
    del data["v7"]
    with pytest.raises(MissingVariablesError) as info:
        t.render(data)
    assert info.value.missing == [{"name": "v7", "line": 8, "column": 9}]
    assert t.render(data, strict=False).splitlines()[7] == "line 7: "
    assert t.variables == {f"v{i}" for i in range(10)}
    assert t.schema()["required"] == sorted(f"v{i}" for i in range(10))


def test_anything_but_plain_names_leaves_the_fast_lane() -> None:
    names = "".join(f"{{{{v{i}}}}}" for i in range(8))
    data = {f"v{i}": "<" for i in range(8)} | {"raw": "<"}
    assert compile_template(names + "{{{raw}}}", escape="html").render(data) == "&lt;" * 8 + "<"
    assert compile_template(names + "{{! note }}").render(data) == "<" * 8
    for broken in (names + "{{", "{" + names, names + "{{#v0}}"):
        with pytest.raises(TemplateSyntaxError):
            compile_template(broken)
