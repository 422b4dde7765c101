"""What compiled Mustache code calls at render time, mostly on its slow (cold) paths.

Generated code first tries the direct lookup (``top["name"]``) and only falls back to these
helpers when that raises: a name found deeper in the context stack, a broken dotted chain,
or a missing variable. They implement the spec's full lookup rules and collect every miss
(with line and column) so strict rendering can report them all at once.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from promptvault.errors import MissingVariablesError, TemplateLimitError

__all__ = [
    "MISS",
    "RUN_CHUNK",
    "Key",
    "Misses",
    "RunItem",
    "SMALL_INTS",
    "add_miss",
    "escape_html",
    "look",
    "missing_error",
    "reindent",
    "resolve",
    "run",
    "overflow_error",
    "sequence",
    "size_error",
    "steps_error",
    "to_str",
    "to_texts",
    "weight",
]

# Long runs of text and names are split into chunks of this many names: one missing name
# then only re-renders its own chunk, and output sizes are checked after each chunk.
RUN_CHUNK = 64

# (dotted name, its parts, line, column, template name or None for the main template)
Key = tuple[str, tuple[str, ...], int, int, str | None]
# A piece of a straight run of text and interpolations: literal text, or a key + "escape?"
RunItem = str | tuple[str, tuple[str, ...], int, int, str | None, bool]
Misses = list[dict[str, Any]] | None

# The text of 0 .. 1023, looked up instead of formatted: the counters, indices, scores and
# ages that prompts interpolate render 4-5x faster (the tuple is ~60 KiB, built at import).
SMALL_INTS: tuple[str, ...] = tuple(map(str, range(1024)))


class _Miss:
    """The result of a lookup that found nothing (``None`` is a real, present value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISS"


MISS: Any = _Miss()


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def to_str(value: Any) -> str:
    """How a value reads in a prompt: ``None`` is empty, containers render as JSON.

    Exact str, None, int, bool and float are tested first, in that order, by identity of
    their type (an ABC check costs ~300 ns); each converts the cheapest way that reads as
    ``str()`` does: a table for small ints, a literal for bools, ``repr`` for floats.
    """
    cls = type(value)
    if cls is str:
        return value  # type: ignore[no-any-return]
    if value is None:
        return ""
    if cls is int:
        return SMALL_INTS[value] if 0 <= value < 1024 else str(value)
    if cls is bool:
        return "True" if value else "False"
    if cls is float:
        return repr(value)
    if cls is dict or cls is list or cls is tuple or isinstance(value, Mapping | list | tuple):
        try:
            return json.dumps(
                dict(value) if isinstance(value, Mapping) else value,
                ensure_ascii=False,
                default=_json_default,
            )
        except (ValueError, TypeError):  # circular structures, exotic keys
            return str(value)
        except RecursionError:  # data nested deeper than the interpreter can walk
            raise TemplateLimitError(
                "a value is nested too deeply to render as JSON",
                details={"limit": "value_depth"},
            ) from None
    return str(value)


def to_texts(values: Sequence[Any]) -> list[str]:
    """``to_str`` of each value, the common types inline (no call per value)."""
    small = SMALL_INTS
    return [
        value
        if (cls := type(value)) is str
        else ""
        if value is None
        else (small[value] if 0 <= value < 1024 else str(value))
        if cls is int
        else ("True" if value else "False")
        if cls is bool
        else repr(value)
        if cls is float
        else to_str(value)
        for value in values
    ]


def escape_html(value: Any) -> str:
    """``to_str`` then HTML escaping (``escape="html"``)."""
    return html.escape(to_str(value))


def resolve(below: tuple[Any, ...], top: Any, parts: tuple[str, ...]) -> Any:
    """Spec lookup: the first part on the context stack (top first), the rest on that value.

    Only subscription is used (never attribute access), so a template cannot reach Python
    internals through the data. Returns ``MISS`` when the name cannot be resolved.
    """
    if not parts:
        return top
    first = parts[0]
    try:
        value = top[first]
    except Exception:
        for frame in reversed(below):
            try:
                value = frame[first]
                break
            except Exception:  # noqa: S112 - a frame without the key: look further down
                continue
        else:
            return MISS
    for part in parts[1:]:
        try:
            value = value[part]
        except Exception:
            return MISS  # a broken chain never falls back to outer contexts
    return value


def add_miss(misses: Misses, key: Key) -> list[dict[str, Any]]:
    """Record one missing name (once per place in the source)."""
    name, _, line, column, template = key
    entry: dict[str, Any] = {"name": name, "line": line, "column": column}
    if template is not None:
        entry["template"] = template
    if misses is None:
        return [entry]
    if entry not in misses:
        misses.append(entry)
    return misses


def look(
    below: tuple[Any, ...], top: Any, key: Key, strict: bool, misses: Misses
) -> tuple[Any, Misses]:
    """Slow-path lookup: the value, or ``None`` after recording the miss in strict mode."""
    value = resolve(below, top, key[1])
    if value is MISS:
        if strict:
            misses = add_miss(misses, key)
        return None, misses
    return value, misses


def run(
    items: tuple[RunItem, ...],
    below: tuple[Any, ...],
    top: Any,
    strict: bool,
    misses: Misses,
) -> tuple[str, Misses]:
    """Render a run of text and interpolations the slow way (after the fast path raised)."""
    out: list[str] = []
    for item in items:
        if type(item) is str:
            out.append(item)
            continue
        assert not isinstance(item, str)
        value = resolve(below, top, item[1])
        if value is MISS:
            if strict:
                misses = add_miss(misses, item[:5])
            continue
        out.append(escape_html(value) if item[5] else to_str(value))
    return "".join(out), misses


def sequence(value: Any) -> Sequence[Any]:
    """What a section iterates: a list's items, or the value itself once."""
    if isinstance(value, list | tuple | range):
        return value
    if isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray):
        return value
    return (value,)


def reindent(  # noqa: PLR0917 - one call site, positional for speed
    text: str, old: str, first_old: bool, new: str, first_new: bool, max_chars: int
) -> str:
    """Move a block's content from the indentation it was written with to its site's.

    ``first_*`` say whether the first line begins at a line start (a standalone open tag);
    otherwise it follows other text and its indentation is left alone. The result is refused
    before it is built when the added indentation would take it past ``max_chars``.
    """
    if old == new and first_old == first_new:
        return text
    if new:
        grown = len(text) + (text.count("\n") + 1) * len(new)
        if grown > max_chars:
            raise size_error(grown, max_chars)
    lines = text.split("\n")
    for i, original in enumerate(lines):
        line = original
        if (i or first_old) and old and line.startswith(old):
            line = line[len(old) :]
        if (i or first_new) and new and line not in ("", "\r"):
            line = new + line
        lines[i] = line
    return "\n".join(lines)


def missing_error(misses: list[dict[str, Any]]) -> MissingVariablesError:
    """The strict-mode error listing every missing name."""
    return MissingVariablesError(misses)


def weight(children: list[Any]) -> int:
    """The steps one pass over a body costs: one, plus one per tag in it (text is free)."""
    return 1 + sum(1 for child in children if type(child) is not str)


def steps_error(steps: int, limit: int) -> TemplateLimitError:
    """Sections and partials did more work than ``max_steps`` allows in one render."""
    return TemplateLimitError(
        f"rendering needs more than {limit} steps (section items times the tags in the "
        "section, plus partial calls): nested sections over large lists?",
        details={"limit": "max_steps", "value": steps, "max": limit},
    )


def overflow_error(error: BaseException) -> TemplateLimitError:
    """The interpreter ran out of stack or memory: report it as the limit it is."""
    if isinstance(error, RecursionError):
        return TemplateLimitError(
            "the template and its partials nest too deeply to render",
            details={"limit": "max_depth"},
        )
    return TemplateLimitError("rendering ran out of memory", details={"limit": "max_output_bytes"})


def size_error(size: int, limit: int) -> TemplateLimitError:
    """The output grew past ``max_output_bytes``."""
    return TemplateLimitError(
        f"rendered output is over the {limit}-byte limit",
        details={"limit": "max_output_bytes", "value": size, "max": limit},
    )
