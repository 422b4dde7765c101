"""Mustache within its documented limits: deep nesting compiles, compile and render work are
bounded, and only TemplateError subclasses ever escape."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from promptvault.errors import TemplateError, TemplateLimitError
from promptvault.templating import Limits, compile_template
from promptvault.templating.mustache import MustacheTemplate
from promptvault.templating.mustache_parser import MAX_NESTING

LANES = ("auto", "code", "interpret")


def _nested(kinds: str, *, lines: bool = False) -> str:
    end = "\n" if lines else ""
    opened = "".join(f"{{{{{kind}a{i}}}}}{end}x{{{{v}}}}{end}" for i, kind in enumerate(kinds))
    closed = "".join(f"{{{{/a{i}}}}}{end}" for i in reversed(range(len(kinds))))
    return opened + closed


@pytest.mark.parametrize("lane", LANES)
@pytest.mark.parametrize(
    "kinds",
    ["^" * (MAX_NESTING - 1), "#" * (MAX_NESTING - 1), "$" * (MAX_NESTING - 1), "#^$" * 33],
    ids=["inverted", "sections", "blocks", "mixed"],
)
def test_nesting_within_the_limit_compiles_and_renders(kinds: str, lane: str) -> None:
    source = _nested(kinds)
    data = {"v": 1, **{f"a{i}": [1] if i % 2 else False for i in range(len(kinds))}}
    top = MustacheTemplate(source, lane=lane)  # type: ignore[arg-type]
    # The same nodes as a partial and as a parent: blocks there can be overridden.
    via_partial = MustacheTemplate(
        "{{>p}}|{{<p}}{{$a0}}over{{/a0}}{{/p}}", partials={"p": source}, lane=lane
    )  # type: ignore[arg-type]
    out = top.render(data, strict=False)
    assert out.startswith("x1") or out == ""
    assert via_partial.render(data, strict=False).startswith(out + "|")


def test_nesting_past_the_limit_names_the_limit() -> None:
    with pytest.raises(TemplateLimitError) as caught:
        compile_template(_nested("^" * (MAX_NESTING + 1)))
    assert caught.value.details["limit"] == "nesting"


def test_too_many_tags_are_refused_at_once_on_every_lane() -> None:
    limits = Limits(max_tags=50)
    for source in ("{{a}}" * 51, "{{#s}}{{a}}{{/s}}" * 17):
        with pytest.raises(TemplateLimitError) as caught:
            compile_template(source, limits=limits).render({"a": 1, "s": 1})
        assert caught.value.details["limit"] == "max_tags"
    with pytest.raises(TemplateLimitError) as caught:
        compile_template("{{>p}}", partials={"p": "{{a}}" * 51}, limits=limits).render({})
    assert caught.value.details["limit"] == "max_tags"
    assert compile_template("{{a}}" * 50, limits=limits).render({"a": 1}) == "1" * 50


@pytest.mark.parametrize(
    "unit",
    ["{{#s}}xx{{v}}{{/s}} ", "{{^s}}xx{{v}}{{/s}} ", "{{a.b}} {{c.d}}", "{{>p}} {{#s}}{{/s}}"],
)
def test_generated_code_stays_linear_in_the_template(unit: str) -> None:
    # Code used to be ~40x the template (17 MB for 360 KB) and compile() superlinear in it.
    source = unit * 1500
    template = MustacheTemplate(source, partials={"p": "{{v}}"})
    assert len(template.code) <= 2 * len(source) + 200_000
    data = {"s": [{"v": 1}], "a": {"b": 2}, "c": {"d": 3}, "v": 4}
    expected = unit.replace("{{#s}}xx{{v}}{{/s}}", "xx1").replace("{{^s}}xx{{v}}{{/s}}", "")
    expected = expected.replace("{{a.b}} {{c.d}}", "2 3").replace("{{>p}} {{#s}}{{/s}}", "4 ")
    assert template.render(data) == expected * 1500


@pytest.mark.parametrize("lane", LANES)
def test_nested_sections_over_caller_data_hit_the_step_budget(lane: str) -> None:
    source = "{{#a}}{{#a}}{{#a}}{{#a}}{{.}}{{/a}}{{/a}}{{/a}}{{/a}}"
    data = {"a": list(range(100))}  # 10^8 innermost iterations
    with pytest.raises(TemplateLimitError) as caught:
        MustacheTemplate(source, lane=lane).render(data)  # type: ignore[arg-type]
    assert caught.value.details["limit"] == "max_steps"
    assert "steps" in str(caught.value)
    small = {"a": list(range(5))}
    assert len(MustacheTemplate(source, lane=lane).render(small)) == 5**4  # type: ignore[arg-type]


def test_partial_fan_out_hits_the_step_budget() -> None:
    partials = {f"p{i}": f"{{{{>p{i + 1}}}}}{{{{>p{i + 1}}}}}" for i in range(20)}
    partials["p20"] = "x"
    with pytest.raises(TemplateLimitError) as caught:
        compile_template("{{>p0}}", partials=partials).render({})  # 2^20 calls
    assert caught.value.details["limit"] == "max_steps"


def test_the_step_budget_follows_limits() -> None:
    source = "{{#a}}{{.}}{{/a}}"
    data = {"a": list(range(1000))}
    assert len(compile_template(source).render(data)) > 1000
    with pytest.raises(TemplateLimitError):
        compile_template(source, limits=Limits(max_steps=500)).render(data)


def _peak(fn: Any) -> tuple[int, BaseException | None]:
    tracemalloc.start()
    error = None
    try:
        fn()
    except Exception as exc:
        error = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, error


@pytest.mark.parametrize(
    ("source", "partials"),
    [
        ("{{a}}" * 2000, {}),  # the flat lane: one name many times
        ("{{>p}}" * 2000, {"p": "{{a}}"}),  # many partial calls side by side
        ("{{#s}}{{a}}{{/s}}" * 1000, {}),  # many sections side by side
    ],
    ids=["flat", "partials", "sections"],
)
def test_repeated_large_values_are_refused_before_the_output_is_built(
    source: str, partials: dict[str, str]
) -> None:
    limit = 1 << 20
    template = compile_template(source, partials=partials, limits=Limits(max_output_bytes=limit))
    data = {"a": "x" * 100_000, "s": True}
    peak, error = _peak(lambda: template.render(data))
    assert isinstance(error, TemplateLimitError)
    assert error.details["limit"] == "max_output_bytes"
    assert peak < 20 * limit  # not 2000 x 100 KB = 200 MB


def test_indenting_a_long_partial_is_refused_before_it_is_built() -> None:
    indent = " " * 50_000
    template = compile_template(f"{indent}{{{{>p}}}}\n", partials={"p": "x\n" * 50_000})
    peak, error = _peak(lambda: template.render({}))
    assert isinstance(error, TemplateLimitError)
    assert error.details["limit"] == "max_source_bytes"
    assert peak < 50 << 20  # not 2.5 GB


def test_reindenting_an_overridden_block_is_bounded() -> None:
    # The override lands in a block of a partial included with 5,000 spaces of indentation.
    partials = {"p": "{{$b}}{{/b}}\n" + " " * 5000 + "{{>q}}\n", "q": "{{$b}}{{/b}}"}
    source = "{{<p}}{{$b}}\n{{a}}\n{{/b}}{{/p}}"
    template = compile_template(source, partials=partials, limits=Limits(max_output_bytes=1 << 20))
    assert template.render({"a": "x\ny"}) == "x\ny\n\n" + " " * 5000 + "x\n" + " " * 5000 + "y\n"
    peak, error = _peak(lambda: template.render({"a": "x\n" * 250_000}))
    assert isinstance(error, TemplateLimitError)
    assert peak < 50 << 20


def test_deeply_nested_data_is_a_limit_error_not_a_recursion_error() -> None:
    value: Any = "x"
    for _ in range(5000):
        value = [value]
    with pytest.raises(TemplateError):
        compile_template("{{a}} {{#s}}{{/s}}").render({"a": value, "s": False})
    with pytest.raises(TemplateError):
        compile_template("{{a}}").render({"a": value})
