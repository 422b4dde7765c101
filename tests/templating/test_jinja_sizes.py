"""Jinja: every operation that can multiply its input is measured *before* it builds the result,
so a render's memory stays within a small multiple of the output limit."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from promptvault.errors import TemplateLimitError
from promptvault.templating import Limits, compile_template

CAP = 1 << 20
LIMITS = Limits(max_output_bytes=CAP)
# 100 KB, then a list holding it 200 times: 20 MB once printed.
SETUP = '{% set a = "&" * 100000 %}{% set many = [a] * 200 %}'


def _peak(source: str, data: dict[str, Any]) -> tuple[int, BaseException | None]:
    template = compile_template(SETUP + source, syntax="jinja", limits=LIMITS)
    tracemalloc.start()
    error = None
    try:
        template.render(data, strict=False)
    except Exception as exc:
        error = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, error


@pytest.mark.parametrize(
    "expression",
    [
        "many|string|length",  # the issue: a list's repr was never measured
        "[a, a, a, a, a, a, a, a, a, a, a]|string|length",
        "(" + " ~ ".join(["a"] * 200) + ")|length",  # ~ was measured after the join
        "('' ~ many)|length",
        "many",  # printed as JSON
        "many|tojson|length",
        "many|pprint|length",
        "[many, many]|join|length",
        "many|join('-')|length",
        "('{0}' * 200).format(a)|length",  # one field named many times
        "('%s' * 200)|format(*many)|length",
        "('%(a)s' * 200) % {'a': a}",
        "(a * 11)|length",
        "{'k': many}|string|length",
        "a|forceescape|forceescape|forceescape|length",
        "a|urlencode|urlencode|urlencode|length",
        "(('x ' * 50000) * 10).split()|length",
        "([[0] * 100000] * 200)|sum(start=[])|length",  # 20 M items
        "(many|string)|replace('&', 'x')|length",
        "many|indent(2)|length",
        "many|wordwrap(5)|length",
    ],
)
def test_amplifying_operations_are_refused_before_they_build(expression: str) -> None:
    peak, error = _peak("{{ " + expression + " }}", {})
    assert isinstance(error, TemplateLimitError), error
    assert error.details["limit"] == "max_output_bytes"
    assert peak < 8 * CAP, f"{peak >> 20} MiB"


def test_shared_structure_is_measured_in_linear_time() -> None:
    # Each level holds the previous one 10 times: 10^30 characters if ever printed.
    nest = "{% set l0 = ['x'] %}" + "".join(
        f"{{% set l{i + 1} = [l{i}] * 10 %}}" for i in range(30)
    )
    peak, error = _peak(nest + "{{ l30|string|length }}", {})
    assert isinstance(error, TemplateLimitError)
    assert peak < 8 * CAP


def test_caller_data_is_measured_too() -> None:
    data = {"big": ["y" * 100_000] * 200}
    for expression in ("big", "big|string", "big ~ ''", "big|tojson"):
        peak, error = _peak("{{ " + expression + " }}", data)
        assert isinstance(error, TemplateLimitError), expression
        assert peak < 8 * CAP


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 'a' ~ 1 ~ none ~ [1, 2] }}", "a1None[1, 2]"),
        ("{{ x ~ y }}", "<[1]"),
        ("{{ [1, 'b']|string }}", "[1, 'b']"),
        ("{{ '{0}{0}-{1}'.format('a', 2) }}", "aa-2"),
        ("{{ '%s and %s'|format('a', 'b') }}", "a and b"),
        ("{{ 'a b  c'.split()|join(',') }}", "a,b,c"),
        ("{{ {'k': [1]}|tojson }}", '{"k": [1]}'),
        ("{{ [[1], [2]]|sum(start=[]) }}", "[1, 2]"),
    ],
)
def test_small_values_render_as_before(source: str, expected: str) -> None:
    out = compile_template(source, syntax="jinja").render({"x": "<", "y": [1]})
    assert out == expected


def test_concatenation_keeps_autoescape() -> None:
    template = compile_template("{{ x ~ '<b>' }}", syntax="jinja", escape="html")
    assert template.render({"x": "<i>"}) == "&lt;i&gt;&lt;b&gt;"
