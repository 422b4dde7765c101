"""Mustache spec conformance: a sample of the official spec, plus the optional modules.

The spec is written for HTML and forgiving lookups, so every case runs with
``escape="html"`` and ``strict=False``. The spec files are vendored in
``data/mustache-spec/`` (MIT, with the spec's LICENSE beside them), so a clone of the
repository alone runs them; a missing folder fails the run instead of silently testing
nothing. The delimiters, inheritance and dynamic-names modules are covered by
``data/mustache_spec_modules.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptvault.templating import compile_template
from promptvault.templating.mustache import MustacheTemplate

DATA = Path(__file__).with_name("data")
SPEC = DATA / "mustache-spec"
MODULES = DATA / "mustache_spec_modules.json"


def _spec_cases() -> list[Any]:
    files = sorted(SPEC.glob("*.json")) if SPEC.is_dir() else []
    cases = []
    for path in files:
        for case in json.loads(path.read_text(encoding="utf-8"))["tests"]:
            cases.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return cases


def _module_cases() -> list[Any]:
    modules = json.loads(MODULES.read_text(encoding="utf-8"))["modules"]
    return [
        pytest.param(case, id=f"{module}: {case['name']}")
        for module, cases in modules.items()
        for case in cases
    ]


SPEC_CASES = _spec_cases()
MODULE_CASES = _module_cases()


def _render(case: dict[str, Any]) -> str:
    return compile_template(case["template"], partials=case.get("partials"), escape="html").render(
        case["data"], strict=False
    )


def test_spec_files_are_vendored() -> None:
    assert SPEC.is_dir(), f"spec sample missing: {SPEC}"
    names = {p.stem for p in SPEC.glob("*.json")}
    assert {"interpolation", "sections", "inverted", "partials", "comments"} <= names
    assert len(SPEC_CASES) >= 100


@pytest.mark.parametrize("case", SPEC_CASES)
def test_shared_spec_case(case: dict[str, Any]) -> None:
    assert _render(case) == case["expected"], case.get("desc")


@pytest.mark.parametrize("case", MODULE_CASES)
def test_spec_module_case(case: dict[str, Any]) -> None:
    assert _render(case) == case["expected"], case.get("desc")


def test_module_data_covers_each_module() -> None:
    modules = json.loads(MODULES.read_text(encoding="utf-8"))["modules"]
    assert set(modules) == {"delimiters", "~inheritance", "~dynamic-names"}
    assert all(len(cases) >= 14 for cases in modules.values())


@pytest.mark.parametrize("case", SPEC_CASES[:40] + MODULE_CASES[:20])
def test_spec_cases_render_the_same_uncached(case: dict[str, Any]) -> None:
    # The same cases through a fresh template object: no state leaks from the LRU cache.
    template = MustacheTemplate(case["template"], partials=case.get("partials"), escape="html")
    assert template.render(case["data"], strict=False) == case["expected"]
