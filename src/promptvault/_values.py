"""Checks and canonical forms of plain values, without pydantic.

Names, references and prompt files are checked by the CLI's quick paths and by ``promptvault
check``, which must not pay for pydantic's import and model building; the models in
:mod:`promptvault.entities` use the same functions (and re-export them).
"""

from __future__ import annotations

import json
import re
from typing import Any

from promptvault.errors import InvalidInputError

__all__ = [
    "JSON_MAX_BYTES",
    "JSON_MAX_DEPTH",
    "MAX_INT",
    "canonical_json",
    "check_json_bounds",
    "check_text",
    "clamp_json",
    "json_depth",
    "parse_int",
]


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the same text for the same value everywhere.

    Content hashes and the audit chain are computed over this text, so every layer that
    hashes a value must serialise it here.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Bounds on user JSON (model config, variables schema, chat messages): deep enough for any
# real schema, shallow enough that every encoder, validator and renderer on the way (json,
# pydantic, jsonschema, the databases) handles it without hitting a recursion limit.
JSON_MAX_DEPTH = 64
# Version numbers, ids and cursors live in 32-bit integer columns on PostgreSQL.
MAX_INT = 2**31 - 1
_ASCII_DIGITS = re.compile(r"[0-9]+")
_MAX_DIGITS = 20
JSON_MAX_BYTES = 256 * 1024
_TOO_DEEP = f"<nested deeper than {JSON_MAX_DEPTH} levels: not shown>"


def json_depth(value: Any, *, stop: int | None = None) -> int:
    """Nesting depth of a JSON value (a scalar is 0, ``[]`` and ``{}`` are 1), iteratively.

    With ``stop``, returns as soon as the depth passes it (the value may be far deeper).
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if stop is not None and deepest > stop:
                return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def check_json_bounds(
    value: Any, field: str, *, max_depth: int = JSON_MAX_DEPTH, max_bytes: int = JSON_MAX_BYTES
) -> str:
    """Refuse JSON nested deeper than ``max_depth`` or longer than ``max_bytes`` (UTF-8).

    Returns the canonical text. Checked before anything recursive touches the value, so a
    hostile value gets ``invalid_input`` naming ``field``, never a RecursionError.
    """
    if json_depth(value, stop=max_depth) > max_depth:
        raise InvalidInputError(
            f"{field} is nested deeper than {max_depth} levels",
            details={"field": field, "limit": "max_depth", "max": max_depth},
        )
    try:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{field} contains a lone surrogate ({exc.object[exc.start]!r}), which is not text",
            details={"field": field},
        ) from None
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{field} must be JSON (strings, numbers, booleans, null, lists, objects): {exc}",
            details={"field": field},
        ) from exc
    if size > max_bytes:
        raise InvalidInputError(
            f"{field} is {size} bytes of JSON, more than the {max_bytes} allowed",
            details={"field": field, "limit": "max_bytes", "max": max_bytes, "size": size},
        )
    return text


def clamp_json(value: Any, *, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """``value`` itself when within ``max_depth``, else a copy cut off at that depth.

    For reading what is already stored: a row written before the bound existed (or by hand)
    still reads and serialises; the part past the bound is replaced by a marker string.
    """
    if json_depth(value, stop=max_depth) <= max_depth:
        return value

    def cut(node: Any, depth: int) -> Any:
        if isinstance(node, dict):
            if depth >= max_depth:
                return _TOO_DEEP
            return {k: cut(v, depth + 1) for k, v in node.items()}
        if isinstance(node, list):
            if depth >= max_depth:
                return _TOO_DEEP
            return [cut(v, depth + 1) for v in node]
        return node

    return cut(value, 0)


def parse_int(text: object, *, field: str, minimum: int = 0, maximum: int = MAX_INT) -> int:
    """An integer written in ASCII digits within ``minimum..maximum``, else InvalidInputError.

    ``str.isdigit`` accepts ``²`` and ``٣``; ``int`` accepts Arabic-Indic digits and
    underscores. Neither is a number here, and a value past ``maximum`` never reaches SQL.
    """
    if isinstance(text, bool):
        raise InvalidInputError(f"{field} must be an integer", details={"field": field})
    if isinstance(text, int):
        value = text
    elif isinstance(text, str) and _ASCII_DIGITS.fullmatch(text):
        if len(text) > _MAX_DIGITS:  # a number, only far too large: say so, without int()
            raise InvalidInputError(
                f"{field} must be from {minimum} to {maximum}, got {_short_repr(text)}",
                details={"field": field, "value": _short_repr(text)},
            )
        value = int(text)
    else:
        raise InvalidInputError(
            f"{field} must be a whole number written in digits 0-9, got {_short_repr(text)}",
            details={"field": field, "value": _short_repr(text)},
        )
    if not minimum <= value <= maximum:
        raise InvalidInputError(
            f"{field} must be from {minimum} to {maximum}, got {value}",
            details={"field": field, "value": value},
        )
    return value


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_text(
    value: object, field: str, *, limit: int | None = None, allow_none: bool = False
) -> str:
    """Text that every database stores as given: a string with no NUL, no lone surrogate.

    The one validator for free text a user sends (messages, descriptions, tags, actors,
    filters, cursors). ``limit`` bounds the length in characters.
    """
    if value is None and allow_none:
        return ""
    if not isinstance(value, str):
        raise InvalidInputError(f"{field} must be a string", details={"field": field})
    if limit is not None and len(value) > limit:
        raise InvalidInputError(
            f"{field} is longer than {limit} characters", details={"field": field, "max": limit}
        )
    if "\x00" in value:
        raise InvalidInputError(
            f"{field} contains a NUL character (\\x00), which cannot be stored",
            details={"field": field, "offset": value.index("\x00")},
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInputError(
                f"{field} contains a lone surrogate ({value[exc.start]!r}), which is not text",
                details={"field": field, "offset": exc.start},
            ) from None
    return value
