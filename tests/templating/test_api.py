"""The public templating API: compile cache, render helper, options and limits."""

from __future__ import annotations

from typing import Any

import pytest

import promptvault.templating as templating
from promptvault.errors import (
    InvalidInputError,
    MissingVariablesError,
    PromptVaultError,
    TemplateError,
    TemplateLimitError,
    TemplateSyntaxError,
)
from promptvault.templating import Limits, Template, compile_template, inspect_template, render

SYNTAXES = ["mustache", "jinja"]


def src(syntax: str, body: str = "Hi {{name}}") -> str:
    return body if syntax == "mustache" else body.replace("{{name}}", "{{ name }}")


def test_public_names() -> None:
    assert templating.__all__ == sorted(templating.__all__)
    for name in (
        "compile_template",
        "render",
        "Template",
        "TemplateError",
        "TemplateSyntaxError",
        "MissingVariablesError",
    ):
        assert hasattr(templating, name)
    assert issubclass(templating.TemplateSecurityError, TemplateError)
    assert issubclass(TemplateError, PromptVaultError)


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_cache_returns_the_same_object_for_the_same_source_and_options(syntax: str) -> None:
    source = src(syntax, "cache test {{name}} " + syntax)
    first = compile_template(source, syntax=syntax)  # type: ignore[arg-type]
    assert isinstance(first, Template)
    assert compile_template(source, syntax=syntax) is first  # type: ignore[arg-type]
    assert compile_template(source, syntax=syntax, escape="html") is not first  # type: ignore[arg-type]
    small = Limits(max_output_bytes=100)
    assert compile_template(source, syntax=syntax, limits=small) is not first  # type: ignore[arg-type]
    with_partials = compile_template(source, syntax=syntax, partials={"p": "x"})  # type: ignore[arg-type]
    assert with_partials is not first
    assert compile_template(source, syntax=syntax, partials={"p": "x"}) is with_partials  # type: ignore[arg-type]
    assert compile_template(source, syntax=syntax, partials={"p": "y"}) is not with_partials  # type: ignore[arg-type]


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_callable_partials_are_not_cached(syntax: str) -> None:
    answers = iter(["one", "two"])
    calls: list[str] = []

    def resolve(name: str) -> str | None:
        calls.append(name)
        return next(answers)

    source = "[{{> p}}]" if syntax == "mustache" else "[{% include 'p' %}]"
    a = compile_template(source, syntax=syntax, partials=resolve)  # type: ignore[arg-type]
    b = compile_template(source, syntax=syntax, partials=resolve)  # type: ignore[arg-type]
    assert a is not b
    assert a.render({}) == "[one]"
    assert b.render({}) == "[two]"
    assert calls.count("p") >= 2


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_source_size_limit(syntax: str) -> None:
    limits = Limits(max_source_bytes=64)
    compile_template("x" * 64, syntax=syntax, limits=limits)  # type: ignore[arg-type]
    with pytest.raises(TemplateLimitError) as err:
        compile_template("x" * 65, syntax=syntax, limits=limits)  # type: ignore[arg-type]
    assert err.value.details == {"limit": "max_source_bytes", "value": 65, "max": 64}
    # the limit counts UTF-8 bytes, not characters
    with pytest.raises(TemplateLimitError):
        compile_template("é" * 33, syntax=syntax, limits=limits)  # type: ignore[arg-type]


def test_default_source_limit_is_one_mebibyte() -> None:
    with pytest.raises(TemplateLimitError):
        compile_template("x" * ((1 << 20) + 1))


@pytest.mark.parametrize("syntax", ["handlebars", "", "JINJA", None])
def test_unknown_syntax_is_invalid_input(syntax: Any) -> None:
    with pytest.raises(InvalidInputError) as err:
        compile_template("x", syntax=syntax)
    assert err.value.details["field"] == "syntax"


@pytest.mark.parametrize("source", [None, 3, b"bytes", ["x"]])
def test_source_must_be_a_string(source: Any) -> None:
    with pytest.raises(InvalidInputError) as err:
        compile_template(source)
    assert err.value.details["field"] == "template"


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_render_passes_strict_and_compile_options_through(syntax: str) -> None:
    source = src(syntax, "<{{name}}>")
    with pytest.raises(MissingVariablesError):
        render(source, {}, syntax=syntax)
    assert render(source, {}, syntax=syntax, strict=False) == "<>"
    assert render(source, {"name": "a&b"}, syntax=syntax) == "<a&b>"
    assert render(source, {"name": "a&b"}, syntax=syntax, escape="html") == "<a&amp;b>"


def test_render_defaults_to_mustache() -> None:
    assert render("{{a}}", {"a": 1}) == "1"
    assert compile_template("{{a}}").syntax == "mustache"


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_syntax_errors_are_not_cached(syntax: str) -> None:
    bad = "{{#open}}" if syntax == "mustache" else "{% if open %}"
    for _ in range(2):
        with pytest.raises(TemplateSyntaxError):
            compile_template(bad, syntax=syntax)  # type: ignore[arg-type]


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_errors_survive_the_json_round_trip(syntax: str) -> None:
    from promptvault.errors import error_from_payload

    bad = "ok\n{{#open}}" if syntax == "mustache" else "ok\n{% if open %}"
    with pytest.raises(TemplateSyntaxError) as err:
        compile_template(bad, syntax=syntax)  # type: ignore[arg-type]
    rebuilt = error_from_payload({"error": err.value.to_dict()})
    assert type(rebuilt) is TemplateSyntaxError
    assert (rebuilt.line, rebuilt.column) == (err.value.line, err.value.column)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "source",
    [
        "Hello {{name}}, {{#items}}{{title}} {{/items}}{{^none}}-{{/none}}",
        "{{#a.b}}{{c}}{{/a.b}}{{! comment }}{{{raw}}}",
    ],
)
def test_inspecting_a_template_reads_what_compiling_it_reads(source: str) -> None:
    inspected = inspect_template(source)
    compiled = compile_template(source)
    assert inspected.variables == compiled.variables
    assert inspected.schema() == compiled.schema()
    data = {"name": "Ada", "items": [{"title": 1}, {"title": 2.5}], "a": {"b": {"c": True}}}
    data["raw"] = "<b>"
    assert inspected.render(data, strict=False) == compiled.render(data, strict=False)


def test_inspecting_a_broken_template_raises_what_compiling_raises() -> None:
    with pytest.raises(TemplateSyntaxError) as inspected:
        inspect_template("Hi {{#open}} never closed")
    with pytest.raises(TemplateSyntaxError) as compiled:
        compile_template("Hi {{#open}} never closed")
    assert inspected.value.to_dict() == compiled.value.to_dict()
