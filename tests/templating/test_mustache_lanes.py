"""Differential test: every Mustache lane gives the same answer for the same input.

A template renders through generated code, through the flat lane (text and plain names, no
code) or through the tree interpreter (templates with many tags). For random templates,
partials and data, all lanes must give the same output, or the same error; and nothing but a
``TemplateError`` may escape compile or render.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptvault.errors import TemplateError, TemplateLimitError
from promptvault.templating import Limits
from promptvault.templating.mustache import MustacheTemplate

LANES = ("auto", "code", "interpret")

# Real syntax pieces, so random sequences reach sections, inheritance, partials, dynamic
# names, delimiters and standalone lines far more often than random text would.
TOKENS = st.sampled_from(
    [
        "{{#a}}",
        "{{/a}}",
        "{{^b}}",
        "{{/b}}",
        "{{#c.d}}",
        "{{/c.d}}",
        "{{<p}}",
        "{{/p}}",
        "{{$a}}",
        "{{$b}}",
        "{{>p}}",
        "{{>q}}",
        "{{>*x}}",
        "{{<*x}}",
        "{{/*x}}",
        "{{a}}",
        "{{b}}",
        "{{.}}",
        "{{c.d}}",
        "{{{a}}}",
        "{{&b}}",
        "{{!c}}",
        "{{=<% %>=}}",
        "<%a%>",
        "<%={{ }}=%>",
        "{{missing}}",
        "\n",
        "  ",
        "text",
        "<&>",
    ]
)
SOURCE = st.lists(TOKENS, max_size=16).map("".join)
# Templates of text and at least eight plain names take the flat lane.
FLAT = st.lists(
    st.sampled_from(["{{a}}", "{{b}}", "{{x}}", "{{missing}}", " ", "<&>", "\n"]),
    min_size=8,
    max_size=20,
).map(lambda parts: "{{a}}" * 8 + "".join(parts))
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([0.5, -0.0, 1e20, 1e-7, float("inf"), 2**70])
    | st.sampled_from(["", "v", "<p>", "p"])
)
DATA = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "c", "d", "x"]), inner, max_size=3)
    ),
    max_leaves=10,
)
TOP = st.dictionaries(st.sampled_from(["a", "b", "c", "x"]), DATA, max_size=4)


def _outcome(
    source: str,
    partials: dict[str, str],
    data: Any,
    *,
    lane: str,
    strict: bool,
    escape: str,
    limits: Limits,
) -> tuple[Any, ...]:
    try:
        template = MustacheTemplate(
            source,
            partials=partials,
            escape=escape,  # type: ignore[arg-type]
            limits=limits,
            lane=lane,  # type: ignore[arg-type]
        )
        return ("ok", template.render(data, strict=strict))
    except TemplateLimitError:
        # Which limit is hit first may differ where lanes check at different places.
        return ("error", "TemplateLimitError")
    except TemplateError as error:
        return ("error", type(error).__name__, error.code, str(error))


def _same_everywhere(source: str, partials: dict[str, str], data: Any, limits: Limits) -> None:
    for strict in (True, False):
        for escape in ("none", "html"):
            outcomes = {
                lane: _outcome(
                    source,
                    partials,
                    data,
                    lane=lane,
                    strict=strict,
                    escape=escape,
                    limits=limits,
                )
                for lane in LANES
            }
            assert len(set(outcomes.values())) == 1, (source, partials, data, strict, outcomes)


SMALL = Limits(max_output_bytes=64, max_steps=40, max_depth=4)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=SOURCE,
    p=SOURCE,
    q=SOURCE,
    data=TOP,
    small=st.booleans(),
)
def test_all_lanes_agree(source: str, p: str, q: str, data: dict[str, Any], small: bool) -> None:
    partials = {"p": p, "q": q, "v": "{{a}}"}
    _same_everywhere(source, partials, data, SMALL if small else Limits())


@settings(max_examples=100, deadline=None)
@given(source=FLAT, data=TOP, small=st.booleans())
def test_the_flat_lane_agrees(source: str, data: dict[str, Any], small: bool) -> None:
    _same_everywhere(source, {}, data, SMALL if small else Limits())


def test_the_lanes_are_really_different() -> None:
    flat = MustacheTemplate("{{a}}" * 8)
    compiled = MustacheTemplate("{{#a}}{{.}}{{/a}}")
    interpreted = MustacheTemplate("{{#a}}{{.}}{{/a}}", lane="interpret")
    assert flat.code == "" and interpreted.code == ""
    assert "def render" in compiled.code
    assert interpreted.render({"a": [1, 2]}) == compiled.render({"a": [1, 2]}) == "12"
