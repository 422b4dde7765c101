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
    "check_format_spec",
    "check_mul",
    "check_pow",
    "check_printf",
    "check_str_method",
    "guarded_filters",
    "limit_error",
    "over_limit",
]

# str(int) refuses more than 4300 digits; stay below so numbers always print.
_MAX_INT_BITS = 14_000
_MAX_JSON_INDENT = 64
_PRINTF = re.compile(r"%[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")


def limit_error(message: str, limit: str, value: int, maximum: int) -> TemplateLimitError:
    """A TemplateLimitError whose details name the ``limit``, the ``value`` and the ``max``."""
    return TemplateLimitError(message, details={"limit": limit, "value": value, "max": maximum})


def over_limit(limit: str, what: str, value: int, maximum: int) -> TemplateLimitError:
    """The error for ``what`` growing to ``value``, past ``maximum``."""
    return limit_error(
        f"{what} would be {value} long, over the {maximum} limit", limit, value, maximum
    )


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
    """Refuse ``fmt % values`` when a width or a ``*`` width would pass ``cap``."""
    args = values if isinstance(values, tuple) else (values,)
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
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec and big:
            raise limit_error("a nested format width is too large", "max_output_bytes", 0, cap)
        for run in re.findall(r"\d+", spec):
            if len(run) > 9 or int(run) > cap:
                raise limit_error(f"format width {run} is too large", "max_output_bytes", 0, cap)


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
    size += sum(len(i) for i in items if isinstance(i, str))
    if size > cap:
        raise over_limit("max_output_bytes", "a join", size, cap)


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
        pad = width if isinstance(width, int) else len(str(width))
        size = len(str(s)) + pad * (str(s).count("\n") + 1)
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
        _check_replace(str(s), old, new, -1 if count is None else count, cap)

    def wordwrap(s: Any, width: Any = 79, *args: Any, **kwargs: Any) -> None:
        wrap = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
        if isinstance(wrap, str) and len(str(s)) * max(len(wrap), 1) > cap:
            raise over_limit("max_output_bytes", "wordwrap", len(str(s)) * len(wrap), cap)

    def join(value: Any, d: Any = "", *_: Any, **__: Any) -> None:
        if isinstance(d, str) and isinstance(value, (list, tuple)):
            _check_join(d, list(value), cap)

    def tojson(value: Any, indent: Any = None) -> None:
        if isinstance(indent, int) and indent > _MAX_JSON_INDENT:
            raise over_limit("max_json_indent", "a JSON indent", indent, _MAX_JSON_INDENT)

    f = jinja_filters.FILTERS
    return {
        "batch": guard(f["batch"], batch),
        "center": guard(f["center"], center),
        "format": guard(f["format"], format_),
        "indent": guard(f["indent"], indent),
        "join": guard(f["join"], join),
        "replace": guard(f["replace"], replace),
        "slice": guard(f["slice"], slice_),
        "tojson": guard(f["tojson"], tojson),
        "wordwrap": guard(f["wordwrap"], wordwrap),
    }
