"""A quick "certainly valid" test for render data, in front of jsonschema.

``jsonschema`` takes tens of microseconds for even a small object, more than rendering the
template; render data is checked on every call. :func:`compile_acceptor` turns a schema made
only of the common keywords into a plain Python predicate that answers True only when
jsonschema would accept the data too. Anything it cannot vouch for (a False answer, or a
schema with any other keyword, where no acceptor is built) goes to jsonschema, which gives
the verdict and the error messages. So the answers are jsonschema's; only the time differs.

Each rule is at most as permissive as Draft 2020-12: ``integer`` accepts ``int`` but not
``1.0`` (jsonschema does; it decides those), ``enum`` only lists of strings, and so on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Acceptor", "compile_acceptor"]

Acceptor = Callable[[Any], bool]

# Keywords that never reject anything (annotations; ``format`` is one without a checker).
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples", "format"}
    | {"deprecated", "readOnly", "writeOnly"}
)
_HANDLED = frozenset(
    {"type", "enum", "minLength", "maxLength", "pattern", "minimum", "maximum"}
    | {"exclusiveMinimum", "exclusiveMaximum", "properties", "additionalProperties"}
    | {"items", "minItems", "maxItems"}
)


def _is_str(v: Any) -> bool:
    return type(v) is str


def _is_number(v: Any) -> bool:
    return type(v) in (int, float)


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": _is_str,
    "integer": lambda v: type(v) is int,
    "number": _is_number,
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
    "array": lambda v: type(v) is list,
    "object": lambda v: type(v) is dict,
}


def compile_acceptor(schema: Any) -> Acceptor | None:
    """A predicate that is True only for data jsonschema accepts; None when the schema
    uses a keyword this module does not handle (then jsonschema checks every call)."""
    if schema is True:
        return _always
    if schema is False or not isinstance(schema, Mapping):
        return None
    keys = set(schema) - _ANNOTATIONS
    if not keys <= _HANDLED:
        return None
    checks: list[Acceptor] = []
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not all(isinstance(k, str) and k in _TYPES for k in kinds):
            return None
        checks.append(_type_check(kinds))
    if "enum" in schema:
        options = schema["enum"]
        if not isinstance(options, list) or not all(type(o) is str for o in options):
            return None
        allowed = frozenset(options)
        checks.append(lambda v: type(v) is str and v in allowed)
    string_checks = _string_checks(schema)
    number_checks = _number_checks(schema)
    if string_checks is None or number_checks is None:
        return None
    checks += string_checks + number_checks
    for part in (_object_check(schema), _array_check(schema)):
        if part is False:
            return None
        if part is not None:
            checks.append(part)  # type: ignore[arg-type]
    return _all_of(checks)


def _type_check(kinds: list[str]) -> Acceptor:
    if len(kinds) == 1:
        return _TYPES[kinds[0]]
    tests = tuple(_TYPES[k] for k in kinds)

    def any_type(v: Any) -> bool:
        for test in tests:  # noqa: SIM110 - a loop: no generator object per call
            if test(v):
                return True
        return False

    return any_type


def _all_of(checks: list[Acceptor]) -> Acceptor:
    # Plain calls and loops: this runs on every render, generator expressions cost more.
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)
    frozen = tuple(checks)

    def every(v: Any) -> bool:
        for check in frozen:  # noqa: SIM110 - a loop: no generator object per call
            if not check(v):
                return False
        return True

    return every


def _always(_v: Any) -> bool:
    return True


def _string_checks(schema: Mapping[str, Any]) -> list[Acceptor] | None:
    out: list[Acceptor] = []
    low, high = schema.get("minLength"), schema.get("maxLength")
    for bound in (low, high):
        if bound is not None and type(bound) is not int:
            return None
    if low is not None:
        out.append(lambda v: not _is_str(v) or len(v) >= low)
    if high is not None:
        out.append(lambda v: not _is_str(v) or len(v) <= high)
    if "pattern" in schema:
        if not isinstance(schema["pattern"], str):
            return None
        try:
            search = re.compile(schema["pattern"]).search
        except re.error:
            return None
        out.append(lambda v: not _is_str(v) or search(v) is not None)
    return out


def _number_checks(schema: Mapping[str, Any]) -> list[Acceptor] | None:
    out: list[Acceptor] = []
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key not in schema:
            continue
        bound = schema[key]
        if type(bound) not in (int, float):
            return None
        out.append(_bound_check(key, bound))
    return out


def _bound_check(key: str, bound: float) -> Acceptor:
    """One numeric bound; values that are not numbers pass (``type`` decides those)."""
    if key == "minimum":
        return lambda v: not _is_number(v) or v >= bound
    if key == "maximum":
        return lambda v: not _is_number(v) or v <= bound
    if key == "exclusiveMinimum":
        return lambda v: not _is_number(v) or v > bound
    return lambda v: not _is_number(v) or v < bound


def _object_check(schema: Mapping[str, Any]) -> Acceptor | bool | None:
    """None: nothing to check; False: not handled; else the check."""
    if "properties" not in schema and "additionalProperties" not in schema:
        return None
    props = schema.get("properties") or {}
    if not isinstance(props, Mapping):
        return False
    subs: dict[str, Acceptor] = {}
    for name, sub in props.items():
        acceptor = compile_acceptor(sub)
        if acceptor is None:
            return False
        subs[name] = acceptor
    extra: Acceptor | None = None
    if "additionalProperties" in schema:
        extra = compile_acceptor(schema["additionalProperties"])
        if extra is None and schema["additionalProperties"] is not False:
            return False
    refuse_extra = schema.get("additionalProperties") is False

    def check(v: Any) -> bool:
        if type(v) is not dict:
            return True  # not an object: properties do not apply (type decides)
        for key, value in v.items():
            sub = subs.get(key)
            if sub is not None:
                if not sub(value):
                    return False
            elif refuse_extra or (extra is not None and not extra(value)):
                return False
        return True

    return check


def _array_check(schema: Mapping[str, Any]) -> Acceptor | bool | None:
    if not {"items", "minItems", "maxItems"} & set(schema):
        return None
    item: Acceptor | None = None
    if "items" in schema:
        item = compile_acceptor(schema["items"])
        if item is None:
            return False
    low, high = schema.get("minItems"), schema.get("maxItems")
    if any(b is not None and type(b) is not int for b in (low, high)):
        return False

    def check(v: Any) -> bool:
        if type(v) is not list:
            return True
        if (low is not None and len(v) < low) or (high is not None and len(v) > high):
            return False
        return item is None or all(item(x) for x in v)

    return check
