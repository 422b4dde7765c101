"""Size checks made *before* the sandbox lets an operation allocate its result.

Each check estimates the size of what ``*``, ``**``, ``+``, ``%``, an amplifying ``str``
method (``center``, ``replace``, ``join``, ``format``...) or filter (``indent``, ``batch``...)
would build, and raises :class:`~promptvault.errors.TemplateLimitError` when it would pass
the output limit, so a one-line template cannot make the process allocate gigabytes.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from jinja2 import filters as jinja_filters

from promptvault.errors import TemplateLimitError
from promptvault.templating.base import Limits

__all__ = [
    "check_tag_count",
    "check_format_spec",
    "check_mul",
    "check_pow",
    "check_printf",
    "check_printed",
    "check_str_method",
    "guarded_filters",
    "limit_error",
    "over_limit",
    "printed_size",
]

# str(int) refuses more than 4300 digits; stay below so numbers always print.
_MAX_INT_BITS = 14_000
_MAX_JSON_INDENT = 64
_PRINTF = re.compile(r"%[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")


# Where Jinja's lexer starts a tag: "{{", "{%" or "{#" (left to right, never overlapping).
_TAG_START = re.compile(r"\{[{%#]")


def check_tag_count(source: str, max_tags: int, name: str | None = None) -> None:
    """Refuse a source with more than ``max_tags`` tags before Jinja spends time parsing it.

    Three ``str.count`` calls (C, about a millisecond per MiB) give an upper bound; only a
    source past it is counted exactly (``{{%`` is one tag, not two), and the refusal names
    the line of the first tag over the limit. Tag starts inside raw blocks and string
    literals count too: the bound errs on the safe side.
    """
    if source.count("{{") + source.count("{%") + source.count("{#") <= max_tags:
        return
    for index, match in enumerate(_TAG_START.finditer(source)):
        if index == max_tags:
            line = source.count("\n", 0, match.start()) + 1
            where = f" in partial {name!r}" if name else ""
            raise TemplateLimitError(
                f"template has more than {max_tags} tags{where} (line {line}): split it "
                "into partials or raise max_tags",
                details={"limit": "max_tags", "max": max_tags, "line": line},
            )


def limit_error(message: str, limit: str, value: int, maximum: int) -> TemplateLimitError:
    """A TemplateLimitError whose details name the ``limit``, the ``value`` and the ``max``."""
    return TemplateLimitError(message, details={"limit": limit, "value": value, "max": maximum})


def over_limit(limit: str, what: str, value: int, maximum: int) -> TemplateLimitError:
    """The error for ``what`` growing to ``value``, past ``maximum``."""
    return limit_error(
        f"{what} would be {value} long, over the {maximum} limit", limit, value, maximum
    )


# Deeper values are refused before printing: repr() and json.dumps() would recurse past
# the interpreter's stack long before any prompt needs this.
_MAX_PRINT_DEPTH = 200
# Splitting a string makes one object per piece (about 50 bytes each, plus the text).
_PIECE_BYTES = 50


def printed_size(value: Any, cap: int) -> int:
    """About ``len(str(value))`` (or of its JSON), counted without building it.

    Strings count their length, containers their items plus separators; a container met
    again (``[x, x, x]``, nested ``n`` levels deep) is counted from memory, so the count
    stays linear in the number of distinct objects while what it measures may be
    exponential. Counting stops soon after ``cap``: the caller only asks "over the cap?".
    """
    seen: dict[int, int] = {}

    def size(item: Any, depth: int) -> int:
        if isinstance(item, str):
            return len(item)
        if item is None or isinstance(item, bool | float):
            return 5
        if isinstance(item, int):
            return item.bit_length() * 30103 // 100_000 + 2
        if not isinstance(item, Mapping | list | tuple | set | frozenset):
            return 0  # other objects print small (undefined values, loops, macros)
        key = id(item)
        known = seen.get(key)
        if known is not None:
            return known
        if depth > _MAX_PRINT_DEPTH:
            raise limit_error(
                f"a value nested more than {_MAX_PRINT_DEPTH} deep cannot be printed",
                "value_depth",
                depth,
                _MAX_PRINT_DEPTH,
            )
        seen[key] = 0  # a container inside itself prints as [...]
        total = 2
        pairs = item.items() if isinstance(item, Mapping) else ((None, v) for v in item)
        for name, element in pairs:
            total += size(element, depth + 1) + 2
            if name is not None:
                total += size(name, depth + 1) + 2
            if total > cap:
                break
        seen[key] = total
        return total

    return size(value, 0)


def check_printed(value: Any, cap: int, what: str) -> None:
    """Refuse printing ``value`` (``str()``, JSON, ``repr()``) when it would pass ``cap``."""
    if isinstance(value, str):
        if len(value) > cap:
            raise over_limit("max_output_bytes", what, len(value), cap)
        return
    size = printed_size(value, cap)
    if size > cap:
        raise over_limit("max_output_bytes", what, size, cap)


def check_mul(left: Any, right: Any, cap: int) -> None:
    """Refuse ``left * right`` when the product or the repeated sequence would be too big."""
    if isinstance(left, int) and isinstance(right, int):
        bits = abs(left).bit_length() + abs(right).bit_length()
        if bits > _MAX_INT_BITS:
            raise over_limit("max_int_bits", "a product", bits, _MAX_INT_BITS)
        return
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
            size = len(seq) * max(times, 0)
            if size > cap:
                raise over_limit("max_output_bytes", "a repetition", size, cap)


def check_pow(left: Any, right: Any) -> None:
    """Refuse ``left ** right`` when the integer result would pass the bit limit."""
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        bits = abs(left).bit_length() * right
        if bits > _MAX_INT_BITS:
            raise over_limit("max_int_bits", "a power", bits, _MAX_INT_BITS)


def check_printf(fmt: str, values: Any, cap: int) -> None:
    """Refuse ``fmt % values`` when a width, a ``*`` width or the values it prints (a
    mapping's may be named many times) would pass ``cap``."""
    args = values if isinstance(values, tuple) else (values,)
    if isinstance(values, Mapping):
        named = re.findall(r"%\(([^)]*)\)", fmt)
        total = len(fmt) + sum(printed_size(values.get(name), cap) for name in named)
    else:
        total = len(fmt) + sum(printed_size(arg, cap) for arg in args)
    if total > cap:
        raise over_limit("max_output_bytes", "a % format", total, cap)
    star_big = any(isinstance(v, int) and v > cap for v in args)
    for match in _PRINTF.finditer(fmt):
        for group in match.groups():
            if group == "*" and star_big:
                raise limit_error(
                    "a '*' width in a format is too large", "max_output_bytes", 0, cap
                )
            if group and group.isdigit() and (len(group) > 9 or int(group) > cap):
                raise limit_error(f"format width {group} is too large", "max_output_bytes", 0, cap)


def check_format_spec(fmt: str, values: list[Any], limits: Limits) -> None:
    """Refuse ``fmt.format(*values)`` when a (nested) field width would pass the output limit."""
    cap = limits.max_output_bytes
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # malformed: the real call raises the same error
    big = any(isinstance(v, int) and v > cap for v in values)
    check_format_fields(fmt, fields, values, cap)
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec and big:
            raise limit_error("a nested format width is too large", "max_output_bytes", 0, cap)
        for run in re.findall(r"\d+", spec):
            if len(run) > 9 or int(run) > cap:
                raise limit_error(f"format width {run} is too large", "max_output_bytes", 0, cap)


def check_format_fields(
    fmt: str, fields: list[tuple[Any, ...]], values: list[Any], cap: int
) -> None:
    """Refuse a ``format`` that prints more than ``cap``: each field counts the value it
    names (``"{0}{0}{0}"`` counts the first value three times)."""
    sizes = [printed_size(value, cap) for value in values]
    largest = max(sizes, default=0)
    total = len(fmt)
    auto = 0
    for _, field, _, _ in fields:
        if field is None:
            continue
        head = re.split(r"[.\[]", field, maxsplit=1)[0]
        if head == "":
            index = auto
            auto += 1
        elif head.isdigit():
            index = int(head)
        else:
            index = -1  # a keyword: assume the largest value
        total += sizes[index] if 0 <= index < len(sizes) else largest
        if total > cap:
            raise over_limit("max_output_bytes", "a format", total, cap)


def check_str_method(
    name: str, text: str, args: tuple[Any, ...], kwargs: dict[str, Any], limits: Limits
) -> tuple[Any, ...]:
    """Refuse an amplifying ``str`` method whose result would pass the output limit.

    Returns the arguments to call the method with: a ``join`` iterable is read into a list
    here, because measuring it consumes it.
    """
    cap = limits.max_output_bytes
    if name in ("center", "ljust", "rjust", "zfill"):
        width = args[0] if args else kwargs.get("width", 0)
        if isinstance(width, int) and width > cap:
            raise over_limit("max_output_bytes", f"str.{name}()", width, cap)
    elif name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tab, int) and len(text) * tab > cap:
            raise over_limit("max_output_bytes", "str.expandtabs()", len(text) * tab, cap)
    elif name == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        _check_replace(text, args[0], args[1], count, cap)
    elif name == "join" and args:
        items = list(args[0])
        _check_join(text, items, cap)
        return (items, *args[1:])
    elif name in ("split", "rsplit", "splitlines"):
        sep = args[0] if args and name != "splitlines" else kwargs.get("sep")
        if isinstance(sep, str) and sep:
            pieces = text.count(sep) + 1
        else:  # whitespace or line breaks: at most one piece per separator character
            pieces = sum(map(text.count, " \t\n\r\x0b\x0c")) + 1
        size = len(text) + pieces * _PIECE_BYTES
        if size > cap:
            raise over_limit("max_output_bytes", f"str.{name}()", size, cap)
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        if len(text) * longest > cap:
            raise over_limit("max_output_bytes", "str.translate()", len(text) * longest, cap)
    return args


def _check_replace(text: Any, old: Any, new: Any, count: Any, cap: int) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    size = len(text) + hits * (len(new) - len(old))
    if size > cap:
        raise over_limit("max_output_bytes", "a replace", size, cap)


def _check_join(sep: str, items: list[Any], cap: int) -> None:
    size = len(sep) * max(len(items) - 1, 0)
    for item in items:  # the join filter prints items that are not strings
        size += len(item) if isinstance(item, str) else printed_size(item, cap)
        if size > cap:
            raise over_limit("max_output_bytes", "a join", size, cap)


def _text(value: Any, cap: int, what: str) -> str:
    """``str(value)`` for a filter's check, refused first when it would be too long."""
    if isinstance(value, str):
        return value
    check_printed(value, cap, what)
    return str(value)


_ESCAPED = ("&", "<", ">", '"', "'")


def guarded_filters(limits: Limits) -> dict[str, Callable[..., Any]]:
    """Filters that can amplify their input, each checked before it allocates."""
    cap = limits.max_output_bytes

    def guard(original: Callable[..., Any], check: Callable[..., None]) -> Callable[..., Any]:
        # Filters marked pass_eval_context/pass_environment get that object first; the
        # checks see only the filter's own arguments.
        skip = 1 if hasattr(original, "jinja_pass_arg") else 0

        @wraps(original)  # keeps Jinja's pass_eval_context/pass_environment marker
        def filtered(*args: Any, **kwargs: Any) -> Any:
            check(*args[skip:], **kwargs)
            return original(*args, **kwargs)

        return filtered

    def center(value: Any, width: Any = 80) -> None:
        if isinstance(width, int) and width > cap:
            raise over_limit("max_output_bytes", "center", width, cap)

    def indent(s: Any, width: Any = 4, *_: Any, **__: Any) -> None:
        text = _text(s, cap, "indent")
        pad = width if isinstance(width, int) else len(_text(width, cap, "indent"))
        size = len(text) + pad * (text.count("\n") + 1)
        if size > cap:
            raise over_limit("max_output_bytes", "indent", size, cap)

    def batch(value: Any, linecount: Any = 1, *_: Any, **__: Any) -> None:
        if isinstance(linecount, int) and linecount > limits.max_range:
            raise over_limit("max_range", "a batch", linecount, limits.max_range)

    def slice_(value: Any, slices: Any = 1, *_: Any, **__: Any) -> None:
        if isinstance(slices, int) and slices > limits.max_range:
            raise over_limit("max_range", "a slice", slices, limits.max_range)

    def format_(value: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(value, str):
            check_printf(value, kwargs or tuple(args), cap)

    def replace(s: Any, old: Any, new: Any, count: Any = None) -> None:
        text = _text(s, cap, "replace")
        _check_replace(text, old, new, -1 if count is None else count, cap)

    def wordwrap(s: Any, width: Any = 79, *args: Any, **kwargs: Any) -> None:
        wrap = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
        size = len(_text(s, cap, "wordwrap"))
        if isinstance(wrap, str) and size * max(len(wrap), 1) > cap:
            raise over_limit("max_output_bytes", "wordwrap", size * len(wrap), cap)

    def join(value: Any, d: Any = "", *_: Any, **__: Any) -> None:
        if isinstance(d, str) and isinstance(value, (list, tuple)):
            _check_join(d, list(value), cap)

    def tojson(value: Any, indent: Any = None) -> None:
        if isinstance(indent, int) and indent > _MAX_JSON_INDENT:
            raise over_limit("max_json_indent", "a JSON indent", indent, _MAX_JSON_INDENT)
        size = printed_size(value, cap)
        if isinstance(indent, int) and indent > 0:
            size *= 2  # every item on a line of its own, indented
        if size > cap:
            raise over_limit("max_output_bytes", "tojson", size, cap)

    def printed(what: str) -> Callable[..., None]:
        def check(value: Any, *_: Any, **__: Any) -> None:
            check_printed(value, cap, what)

        return check

    def escaped(value: Any, *_: Any, **__: Any) -> None:
        # Each special character becomes an entity of up to 5 characters, and forceescape
        # escapes again what is already escaped: chained, it would grow 5x per step.
        if isinstance(value, str):
            size = len(value) + 4 * sum(map(value.count, _ESCAPED))
        else:
            size = printed_size(value, cap)
        if size > cap:
            raise over_limit("max_output_bytes", "escaping", size, cap)

    def urlencode(value: Any, *_: Any, **__: Any) -> None:
        # Every byte may become %XX: three times the UTF-8 size, per application.
        if isinstance(value, str):
            size = 3 * len(value.encode("utf-8", "surrogatepass"))
        else:
            size = 3 * printed_size(value, cap)
        if size > cap:
            raise over_limit("max_output_bytes", "urlencode", size, cap)

    def sum_(iterable: Any, attribute: Any = None, start: Any = 0) -> None:
        # Summing lists concatenates them: count the items of the result.
        if isinstance(start, (list, tuple)) and isinstance(iterable, (list, tuple)):
            size = len(start) + sum(len(i) for i in iterable if isinstance(i, (list, tuple)))
            if size > cap:
                raise over_limit("max_output_bytes", "a sum of lists", size, cap)

    f = jinja_filters.FILTERS
    return {
        "batch": guard(f["batch"], batch),
        "center": guard(f["center"], center),
        "e": guard(f["e"], escaped),
        "escape": guard(f["escape"], escaped),
        "forceescape": guard(f["forceescape"], escaped),
        "format": guard(f["format"], format_),
        "indent": guard(f["indent"], indent),
        "join": guard(f["join"], join),
        "pprint": guard(f["pprint"], printed("pprint")),
        "replace": guard(f["replace"], replace),
        "slice": guard(f["slice"], slice_),
        "string": guard(f["string"], printed("string")),
        "sum": guard(f["sum"], sum_),
        "tojson": guard(f["tojson"], tojson),
        "urlencode": guard(f["urlencode"], urlencode),
        "wordwrap": guard(f["wordwrap"], wordwrap),
    }
