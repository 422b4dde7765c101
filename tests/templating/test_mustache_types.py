"""Non-string values render as ``to_str`` says, without a conversion call per value.

str passes through, None reads as empty, a small int comes from a table, a bool is a
literal and a float its ``repr``: all read exactly as ``str(v)``. Only containers and other
types go through the converter, so a render with numbers among its values takes no failing
join and no per-value call.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from typing import Any

import pytest

from promptvault.templating import mustache, mustache_runtime
from promptvault.templating.mustache import MustacheTemplate

FLAT_SMALL = "Agent for {{a}}, tone {{b}}, question {{c}}."
FLAT_MANY = "".join(f"[{{{{v{i}}}}}]" for i in range(10))
LOOP = "{{#rows}}{{i}}: {{x}} {{y}} {{z}}\n{{/rows}}Q: {{q}}"
NUMBERS: list[Any] = [7, -1.5, True, False, 1e20, 2**70, 0.1]


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every value handed to the converter while templates compiled in the test render."""
    seen: list[Any] = []
    original = mustache_runtime.to_str

    def counting(value: Any) -> str:
        seen.append(value)
        return original(value)

    monkeypatch.setattr(mustache, "to_str", counting)
    monkeypatch.setattr(mustache_runtime, "to_str", counting)
    return seen


@pytest.mark.parametrize("lane", ["auto", "code"])
def test_numbers_and_booleans_are_formatted_without_the_converter(
    lane: str, conversions: list[Any]
) -> None:
    small = MustacheTemplate(FLAT_SMALL, lane=lane)  # type: ignore[arg-type]
    assert small.render({"a": 7, "b": -1.5, "c": True}) == "Agent for 7, tone -1.5, question True."
    many = MustacheTemplate(FLAT_MANY, lane=lane)  # type: ignore[arg-type]
    data = {f"v{i}": NUMBERS[i % len(NUMBERS)] for i in range(10)}
    assert many.render(data) == "".join(f"[{data[f'v{i}']}]" for i in range(10))
    loop = MustacheTemplate(LOOP, lane=lane)  # type: ignore[arg-type]
    rows = [{"i": i, "x": NUMBERS[i % 7], "y": "s", "z": float(i)} for i in range(20)]
    expected = "".join(f"{r['i']}: {r['x']} s {r['z']}\n" for r in rows) + "Q: 3"
    assert loop.render({"rows": rows, "q": 3}) == expected
    assert small.render({"a": None, "b": 1, "c": None}) == "Agent for , tone 1, question ."
    assert many.render({f"v{i}": None for i in range(10)}) == "[]" * 10
    assert conversions == []


def test_containers_and_subclasses_still_go_through_the_converter(
    conversions: list[Any],
) -> None:
    template = MustacheTemplate(FLAT_SMALL)
    ordered = OrderedDict(k=1)
    out = template.render({"a": None, "b": [1, "x"], "c": ordered})
    assert out == 'Agent for , tone [1, "x"], question {"k": 1}.'
    assert conversions == [[1, "x"], ordered]


class Level(enum.IntEnum):
    HIGH = 3


# Both sides of the small-int table's bounds, and int, float and str subclasses.
EDGES: list[Any] = [-1, 0, 1, 1023, 1024, -(2**70), Level.HIGH, Level.HIGH.value, True, 1.0]


@pytest.mark.parametrize("lane", ["auto", "code", "interpret"])
@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_ints_around_the_table_bounds_read_as_str(lane: str, value: Any) -> None:
    for source in (FLAT_SMALL, FLAT_MANY, LOOP):
        template = MustacheTemplate(source, lane=lane)  # type: ignore[arg-type]
        data = {"a": value, "b": "-", "c": value, "q": value}
        data |= {f"v{i}": value if i % 2 else "-" for i in range(10)}
        data["rows"] = [{"i": value, "x": value, "y": "-", "z": value}]
        text = str(value)
        expected = {
            FLAT_SMALL: f"Agent for {text}, tone -, question {text}.",
            FLAT_MANY: "".join(f"[{text if i % 2 else '-'}]" for i in range(10)),
            LOOP: f"{text}: {text} - {text}\nQ: {text}",
        }[source]
        assert template.render(data) == expected


def test_the_interpreter_and_generated_code_agree_on_every_scalar() -> None:
    values: list[Any] = [*NUMBERS, *EDGES, None, "", "<&>", -0.0, float("inf"), float("nan")]
    values.append([1.5])
    for source in (FLAT_SMALL, FLAT_MANY, LOOP):
        for escape in ("none", "html"):
            for value in values:
                data = {"a": value, "b": value, "c": value, "q": value}
                data |= {f"v{i}": value for i in range(10)}
                data["rows"] = [{"i": value, "x": value, "y": value, "z": value}]
                outs = {
                    MustacheTemplate(source, lane=lane, escape=escape).render(data)  # type: ignore[arg-type]
                    for lane in ("auto", "code", "interpret")
                }
                assert len(outs) == 1, (source, escape, value, outs)
