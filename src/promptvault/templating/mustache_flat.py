"""The fast lane for the commonest prompt: plain text and ``{{name}}`` tags, nothing else.

Such a template needs no generated code. ``split_flat`` recognises it with one regular
expression (in C), and ``getter_render`` renders it with one ``operator.itemgetter`` call
that fetches every value, slotted between the literal pieces of a prepared list and joined.
Compiling is then only that split; the full parse (for line and column numbers, variables and
schema) happens later, and only if something asks for it.

Anything else in the template (sections, dotted names, triple mustaches, comments,
delimiter changes, a stray ``{{``) makes ``split_flat`` decline, and the general parser and
compiler take over.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from promptvault.templating.mustache_runtime import RunItem

__all__ = [
    "GETTER_AT",
    "base_list",
    "constant_render",
    "getter_render",
    "slow_render",
    "split_flat",
]

# Runs with at least this many plain names fetch them with one itemgetter call: less code
# to compile, and faster than separate lookups. Below it, generated code wins.
GETTER_AT = 8

# A plain {{name}} not preceded by "{" (so never part of {{{triple}}} or "{{{{").
_PLAIN_TAG = re.compile(r"(?<!\{)\{\{[ \t]*(\w+)[ \t]*\}\}")

Render = Callable[..., str]
Slow = Callable[[Any, bool], str]


def split_flat(source: str, max_tags: int) -> tuple[list[str], list[str]] | None:
    """``(texts, names)`` when ``source`` is text and at least GETTER_AT plain tags only.

    Every ``{{`` in the source must start one of the matched tags (equal counts prove it:
    a match can never overlap another occurrence), so the general parser would see exactly
    these tags and no standalone line, comment or delimiter change. A source with more
    than ``max_tags`` of them is left to the parser, which refuses it.
    """
    if source.count("{{") > max_tags:
        return None
    parts = _PLAIN_TAG.split(source)
    names = parts[1::2]
    if len(names) < GETTER_AT or source.count("{{") != len(names):
        return None
    return parts[0::2], names


def base_list(items: list[Any]) -> list[str | None]:
    """Literal pieces at even positions, ``None`` slots for values at odd positions."""
    base: list[str | None] = [""]
    for item in items:
        if isinstance(item, str):
            base[-1] = f"{base[-1]}{item}"
        else:
            base += [None, ""]
    return base


def constant_render(text: str, runtime: dict[str, Any], max_bytes: int) -> Render:
    """A template without tags renders itself."""
    runtime["_check_size"](text, max_bytes)  # the limit may be below the source size

    def render(data: Any, *, strict: bool = True) -> str:
        return text

    return render


def slow_render(
    spec: Callable[[], tuple[RunItem, ...]], runtime: dict[str, Any], max_bytes: int
) -> Slow:
    """The full-rules render of a flat template, used after the fast lookup raised."""
    run, missing, check_size = runtime["_run"], runtime["_missing"], runtime["_check_size"]

    def slow(data: Any, strict: bool) -> str:
        text, misses = run(spec(), (), data, strict, None)
        if len(text) > max_bytes // 4:
            check_size(text, max_bytes)
        if misses:
            raise missing(misses)
        return str(text)

    return slow


def getter_render(
    base: list[str | None],
    names: list[str],
    *,
    escape: bool,
    slow: Slow,
    runtime: dict[str, Any],
    max_bytes: int,
) -> Render:
    """``render(data, *, strict=True)`` for a flat template of plain names."""
    getter = itemgetter(*names)
    to_texts = runtime["_texts"]
    check_size = runtime["_check_size"]
    size_error = runtime["_size_error"]
    convert = runtime["_e"] if escape else None
    quarter = max_bytes // 4
    join = "".join
    # A name used more than once could repeat a long value many times over: such templates
    # add up the pieces' lengths before joining them.
    repeated = len(set(names)) < len(names)

    def render(data: Any, *, strict: bool = True) -> str:
        try:
            values = getter(data)
        except Exception:
            return slow(data, strict)
        pieces = base.copy()
        if repeated:
            texts = list(map(convert, values)) if convert else to_texts(values)
            total = sum(map(len, texts))
            if total > max_bytes:
                raise size_error(total, max_bytes)
            pieces[1::2] = texts
            text = join(pieces)  # type: ignore[arg-type]
        elif convert is not None:
            pieces[1::2] = map(convert, values)
            text = join(pieces)  # type: ignore[arg-type]
        else:
            pieces[1::2] = values
            try:
                text = join(pieces)  # type: ignore[arg-type]
            except TypeError:  # a non-string value: convert them all
                pieces[1::2] = to_texts(values)
                text = join(pieces)  # type: ignore[arg-type]
        if len(text) > quarter:
            check_size(text, max_bytes)
        return text

    return render
