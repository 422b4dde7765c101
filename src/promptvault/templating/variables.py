"""Declared variables: a JSON Schema per prompt version, checked against the template.

A prompt may declare its variables either as a JSON Schema (``type: object`` with
``properties``) or as the simple map people write by hand::

    {"company": {"type": "string", "description": "Brand name"},
     "tone": {"type": "string", "default": "friendly"}}

:func:`normalise_variables` turns both into a JSON Schema; :func:`validate_variables_schema`
checks it; :func:`check_template_fits_schema` makes sure the template reads nothing the schema
does not declare; :func:`apply_defaults`, :func:`validate_data` and :func:`data_checker`
prepare and check render data.

Schemas are checked as Draft 2020-12 by ``jsonschema``, a base dependency: the SDK, the
library and the server accept and refuse the same data. It is imported on first use, so
commands that never check a schema start without it.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from promptvault.errors import InvalidInputError
from promptvault.templating.builtins import BUILTIN_NAMES
from promptvault.templating.schema_accept import compile_acceptor

__all__ = [
    "DefaultsFiller",
    "JSON_TYPES",
    "absent_value",
    "apply_defaults",
    "check_template_fits_schema",
    "data_checker",
    "integer_too_long_error",
    "defaults_filler",
    "normalise_variables",
    "schema_with_defaults",
    "validate_data",
    "validate_variables_schema",
]

JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
_DRAFT = "https://json-schema.org/draft/2020-12/schema"
# Keys that mark a mapping as a JSON Schema rather than a {name: spec} map.
_SCHEMA_KEYS = frozenset(
    {"$schema", "$id", "$defs", "additionalProperties", "patternProperties", "properties"}
    | {"required", "title", "description", "type"}
)
_SIMPLE_KEYS = frozenset(
    {"type", "description", "default", "enum", "examples", "items", "properties", "required"}
    | {"format", "minimum", "maximum", "minLength", "maxLength", "pattern", "title"}
)
_FIELD = "variables_schema"


def validate_variables_schema(schema: Any) -> dict[str, Any]:
    """Check that ``schema`` is a valid JSON Schema describing an object; return a copy.

    Raises :class:`InvalidInputError` with ``details["field"] == "variables_schema"`` and,
    where known, ``details["path"]`` pointing inside the schema.
    """
    if not isinstance(schema, Mapping):
        raise InvalidInputError(
            "variables_schema must be a JSON Schema object", details={"field": _FIELD}
        )
    clean = copy.deepcopy(dict(schema))
    if clean.get("type", "object") != "object":
        raise InvalidInputError(
            f"variables_schema must describe an object (type: object), not {clean['type']!r}",
            details={"field": f"{_FIELD}.type", "path": "type"},
        )
    # Checking against the metaschema costs ~1.5 ms; a folder of prompt files repeats the
    # same few schemas. repr is the key: it tells 1 from 1.0 from True and a tuple from a
    # list, which the check also tells apart.
    if _plainly_valid(clean):
        return clean
    key = repr(clean)
    if key in _VALID_SCHEMAS:
        return clean
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(clean)
    except jsonschema.SchemaError as exc:
        path = ".".join(str(p) for p in exc.path)
        raise InvalidInputError(
            f"variables_schema is not a valid JSON Schema: {exc.message}"
            + (f" (at {path})" if path else ""),
            details={"field": _FIELD, "path": path},
        ) from exc
    if len(_VALID_SCHEMAS) >= _VALID_SCHEMAS_MAX:
        _VALID_SCHEMAS.clear()
    _VALID_SCHEMAS.add(key)
    return clean


_VALID_SCHEMAS: set[str] = set()
_VALID_SCHEMAS_MAX = 1024

# The keywords that most prompts declare their variables with, and values of them that the
# Draft 2020-12 metaschema accepts whatever else the schema holds ("default" and the items
# of "enum" are unconstrained). A schema made of these alone is valid without importing
# jsonschema, whose import costs more than everything else ``promptvault check`` does on a
# small folder.
_PLAIN_KEYS = frozenset(
    {"type", "title", "description", "default", "enum", "required", "properties"}
    | {"additionalProperties", "items"}
)
_PLAIN_DEPTH = 16


def _plainly_valid(schema: dict[str, Any]) -> bool:
    """True only for a schema the metaschema certainly accepts; False means "ask jsonschema"
    (which also words the error)."""
    if schema.get("$schema", _DRAFT) != _DRAFT:
        return False
    return _plain({k: v for k, v in schema.items() if k != "$schema"}, 0)


def _plain(node: Any, depth: int) -> bool:
    if type(node) is bool:
        return True  # true and false are schemas
    if type(node) is not dict or depth > _PLAIN_DEPTH or not node.keys() <= _PLAIN_KEYS:
        return False
    kind = node.get("type", "object")
    if type(kind) is not str or kind not in JSON_TYPES:
        return False
    if any(type(node.get(key, "")) is not str for key in ("title", "description")):
        return False
    if type(node.get("enum", [])) is not list:
        return False
    required = node.get("required", [])
    if type(required) is not list or any(type(name) is not str for name in required):
        return False
    if len(set(required)) != len(required):
        return False
    properties = node.get("properties", {})
    if type(properties) is not dict or any(type(name) is not str for name in properties):
        return False
    children = [*properties.values(), node.get("additionalProperties", True)]
    children.append(node.get("items", True))
    return all(_plain(child, depth + 1) for child in children)


def check_template_fits_schema(variables: Any, schema: Mapping[str, Any] | None) -> None:
    """Every variable the template reads must be declared, unless the schema allows extras.

    ``variables`` is a set of names or a compiled template (anything with ``.variables``).
    Undeclared names are allowed when ``additionalProperties`` is absent or true (JSON
    Schema's default) or matches a ``patternProperties`` pattern; with
    ``additionalProperties: false`` each must be declared.
    """
    if schema is None:
        return
    names: Iterable[str] = getattr(variables, "variables", variables)
    declared = schema.get("properties") or {}
    extra = schema.get("additionalProperties", True)
    if extra is not False:
        return
    patterns = [re.compile(p) for p in (schema.get("patternProperties") or {})]
    undeclared = sorted(
        n
        for n in names
        if n not in declared and n not in BUILTIN_NAMES and not any(p.search(n) for p in patterns)
    )
    if undeclared:
        raise InvalidInputError(
            f"the template reads {', '.join(undeclared)}, which variables_schema does not "
            "declare (add them to properties or allow additionalProperties)",
            details={
                "field": f"{_FIELD}.properties.{undeclared[0]}",
                "variable": undeclared[0],
                "variables": undeclared,
            },
        )


def _looks_like_schema(spec: Mapping[str, Any]) -> bool:
    if spec.get("type") == "object" or "$schema" in spec:
        return True
    if isinstance(spec.get("properties"), Mapping) and set(spec) <= _SCHEMA_KEYS:
        # {"properties": {...}} alone is a schema; a variable *named* "properties" would
        # sit next to others whose specs are not schema keywords.
        return not isinstance(spec.get("type"), Mapping)
    return False


def normalise_variables(spec: Any) -> dict[str, Any]:
    """A JSON Schema from a JSON Schema, a ``{name: {type, description, default}}`` map,
    a ``{name: "type"}`` shorthand or a list of names.

    In the simple forms a variable is required unless it has a ``default`` or says
    ``required: false``; its type defaults to ``string``.
    """
    if isinstance(spec, Mapping) and _looks_like_schema(spec):
        return validate_variables_schema(spec)
    if isinstance(spec, (list, tuple)):
        spec = {name: None for name in spec}
    if not isinstance(spec, Mapping):
        raise InvalidInputError(
            "variables must be a JSON Schema, a {name: {type, ...}} map or a list of names",
            details={"field": "variables"},
        )
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, given in spec.items():
        where = f"variables.{name}"
        if not isinstance(name, str) or not name:
            raise InvalidInputError(
                "variable names must be non-empty strings", details={"field": "variables"}
            )
        entry: Any = {} if given is None else {"type": given} if isinstance(given, str) else given
        if not isinstance(entry, Mapping):
            raise InvalidInputError(
                f"variable {name!r} must be a mapping such as {{type: string}}",
                details={"field": where},
            )
        entry = dict(entry)
        is_required = entry.pop("required", None)
        if is_required is not None and not isinstance(is_required, bool):
            raise InvalidInputError(
                f"variable {name!r}: required must be true or false",
                details={"field": f"{where}.required"},
            )
        unknown = sorted(set(entry) - _SIMPLE_KEYS)
        if unknown:
            raise InvalidInputError(
                f"variable {name!r} has unknown key {unknown[0]!r}",
                details={"field": f"{where}.{unknown[0]}"},
            )
        kind = entry.setdefault("type", "string")
        if kind not in JSON_TYPES:
            raise InvalidInputError(
                f"variable {name!r} has unknown type {kind!r} (use {', '.join(JSON_TYPES)})",
                details={"field": f"{where}.type", "value": repr(kind)},
            )
        properties[name] = entry
        if is_required if is_required is not None else "default" not in entry:
            required.append(name)
    schema: dict[str, Any] = {"$schema": _DRAFT, "type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return validate_variables_schema(schema)


def apply_defaults(schema: Mapping[str, Any] | None, data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with each absent property's ``default`` filled in, recursively.

    Strict rendering treats an absent name as an error, so optional variables take their
    declared defaults before rendering. Mutable defaults are deep-copied: callers may mutate
    them. Hot paths compile this once per schema with :func:`defaults_filler`.
    """
    if not isinstance(schema, Mapping):
        return dict(data)
    return _filler(schema)(data)


DefaultsFiller = Callable[[Mapping[str, Any]], dict[str, Any]]
_IMMUTABLE = (str, int, float, bool, type(None))


def defaults_filler(
    schema: Mapping[str, Any] | None, *, syntax: str | None = None
) -> DefaultsFiller | None:
    """What a render does to the caller's (checked) data, compiled once per schema; None
    when there is nothing to do.

    Declared defaults fill what the caller left out. With ``syntax`` given, a property the
    schema declares but neither requires nor gives a default reads as *absent* when left
    out, not as missing: ``None`` for Mustache (a false section, empty text) and an undefined
    value for Jinja (false, and ``|default`` still applies). So ``{{#tier.free}}`` works on
    ``tier={"enterprise": true}``; names the schema does not declare stay missing in strict
    mode. Resolvers, builders and the SDK keep the filler with a compiled version.
    """
    if not isinstance(schema, Mapping):
        return None
    absent = _NO_ABSENT if syntax is None else absent_value(syntax)
    if schema_with_defaults(schema) is None and (
        absent is _NO_ABSENT or not _has_optional(schema.get("properties"), schema)
    ):
        return None
    return _filler(schema, absent)


_NO_ABSENT: Any = object()


def absent_value(syntax: str) -> Any:
    """How a declared, optional, left-out property reads in ``syntax`` (see above)."""
    if syntax == "jinja":
        from jinja2 import ChainableUndefined

        return ChainableUndefined(name="absent")
    return None


def _has_optional(properties: Any, schema: Mapping[str, Any]) -> bool:
    if not isinstance(properties, Mapping) or not properties:
        return False
    required = set(schema.get("required") or ())
    for name, spec in properties.items():
        if name not in required:
            return True
        if isinstance(spec, Mapping) and _has_optional(spec.get("properties"), spec):
            return True
    return False


def _filler(schema: Mapping[str, Any], absent: Any = _NO_ABSENT) -> DefaultsFiller:
    steps: list[tuple[str, Callable[[], Any] | None, DefaultsFiller | None]] = []
    required = schema.get("required") or ()
    for name, spec in (schema.get("properties") or {}).items():
        if not isinstance(spec, Mapping):
            continue
        make: Callable[[], Any] | None = None
        if "default" in spec:
            value = spec["default"]
            # Immutable defaults are shared as they are; only containers need a fresh copy.
            if isinstance(value, _IMMUTABLE):
                make = functools.partial(_same, value)
            else:
                make = functools.partial(copy.deepcopy, value)
        elif absent is not _NO_ABSENT and name not in required:
            make = functools.partial(_same, absent)
        nested = _filler(spec, absent) if spec.get("properties") else None
        if make is not None or nested is not None:
            steps.append((name, make, nested))

    def fill(data: Mapping[str, Any]) -> dict[str, Any]:
        filled = dict(data)
        for name, make, nested in steps:
            if make is not None and name not in filled:
                filled[name] = make()
            if nested is not None:
                value = filled.get(name)
                if isinstance(value, Mapping):
                    filled[name] = nested(value)
        return filled

    return fill


def _same(value: Any) -> Any:
    return value


def schema_with_defaults(schema: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``schema`` when it declares a ``default`` anywhere, else None.

    Resolvers and builders keep the result with a compiled version, so a render of a prompt
    without defaults skips :func:`apply_defaults` (and its copy of the data) altogether.
    """

    def has_default(node: Any) -> bool:
        if isinstance(node, Mapping):
            return "default" in node or any(has_default(v) for v in node.values())
        if isinstance(node, list):
            return any(has_default(v) for v in node)
        return False

    return schema if schema and has_default(schema.get("properties")) else None


def validate_data(schema: Mapping[str, Any] | None, data: Mapping[str, Any]) -> None:
    """Check render data against the variables schema; the error names the first bad field.

    ``details["field"]`` is ``variables.<dotted path>`` and ``details["errors"]`` lists every
    problem found as ``{"field", "message"}``.
    """
    if schema is None:
        return
    if not isinstance(data, Mapping):
        raise InvalidInputError("variables must be an object", details={"field": "variables"})
    _raise_problems(_problems(_validator(schema), data))


DataChecker = Callable[[Mapping[str, Any]], None]


def data_checker(schema: Mapping[str, Any] | None) -> DataChecker | None:
    """A check of the variables a caller passes, compiled once per schema; None without one.

    Raises :class:`InvalidInputError` like :func:`validate_data` when a value breaks the
    schema (type, enum, length, pattern, additionalProperties...). Names the schema
    ``required`` but the caller left out are not reported here: the template's strict
    check reports them as :class:`~promptvault.errors.MissingVariablesError`, and declared
    defaults may fill them. Render, build and the SDK all check through this.
    """
    if not isinstance(schema, Mapping) or not schema:
        return None
    checked = _without_required(schema)
    # jsonschema is slow next to a render: a plain predicate vouches for the common case,
    # and jsonschema decides (and words the error) whenever it cannot. It is imported and
    # built on first need only: a one-shot CLI render of accepted data never loads it.
    accept = compile_acceptor(checked)
    validators: list[Any] = []

    def check(data: Mapping[str, Any]) -> None:
        if accept is not None and accept(data):
            return
        if not validators:
            validators.append(_validator(checked))
        validator = validators[0]
        try:
            valid = validator.is_valid(data)
        except ValueError:  # an integer jsonschema cannot quote: _problems names it
            valid = False
        if not valid:
            _raise_problems(_problems(validator, data))

    return check


def _without_required(node: Any) -> Any:
    """A copy of a schema with every ``required`` list removed (subschemas included)."""
    if isinstance(node, Mapping):
        return {
            k: _without_required(v)
            for k, v in node.items()
            if not (k == "required" and isinstance(v, list))
        }
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node


def _validator(schema: Mapping[str, Any]) -> Any:
    # No format checker: ``format`` stays an annotation, as Draft 2020-12 says, because
    # what it would check depends on optional packages installed on each side.
    import jsonschema

    return jsonschema.Draft202012Validator(schema)


def _raise_problems(problems: list[tuple[str, str]]) -> None:
    if problems:
        field, message = problems[0]
        raise InvalidInputError(
            f"{field}: {message}",
            details={
                "field": field,
                "errors": [{"field": f, "message": m} for f, m in problems],
            },
        )


def _field(path: Iterable[Any]) -> str:
    parts = [str(p) for p in path]
    return ".".join(["variables", *parts])


def _problems(validator: Any, data: Mapping[str, Any]) -> list[tuple[str, str]]:
    try:
        errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
    except ValueError:
        # jsonschema words its messages with repr(value), and repr of an integer of more
        # than 4,300 digits raises: name that integer instead.
        path = _huge_int_path(data, [])
        if path is None:
            raise
        return [(_field(path), "the integer has too many digits to print (at most 4300)")]
    problems: list[tuple[str, str]] = []
    for error in errors:
        path = list(error.path)
        if error.validator == "required":
            # "'x' is a required property": name the missing property, not its parent
            match = re.match(r"'(.+)' is a required property", error.message)
            if match:
                path.append(match.group(1))
        problems.append((_field(path), _bounded(error.message)))
    return problems


def integer_too_long_error(data: Any) -> InvalidInputError | None:
    """The error naming an integer of ``data`` too long to print, or None if none is.

    ``str()`` refuses an integer of more than 4,300 digits with a bare ValueError; a render
    that hits one reports it through this, as bad input at its field. Only called once a
    render has failed, so the walk costs nothing on success.
    """
    path = _huge_int_path(data, [])
    if path is None:
        return None
    field = _field(path)
    return InvalidInputError(
        f"{field}: the integer has too many digits to print (at most 4300)",
        details={"field": field, "reason": "integer_too_long"},
    )


def _huge_int_path(value: Any, path: list[Any]) -> list[Any] | None:
    """The path to the first integer ``str()`` refuses (over 4,300 digits), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return path if value.bit_length() > _STR_INT_BITS and _refuses_str(value) else None
    if isinstance(value, Mapping):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _huge_int_path(item, [*path, key])
        if found is not None:
            return found
    return None


# 4,300 decimal digits need at least 14,284 bits: below that str() never refuses.
_STR_INT_BITS = 14_000


def _refuses_str(value: int) -> bool:
    try:
        str(value)
    except ValueError:
        return True
    return False


_MAX_MESSAGE = 300


def _bounded(message: str) -> str:
    # jsonschema quotes the offending value whole ("[[...]] is not of type 'string'"); a
    # large value must not come back as a message of the same size.
    if len(message) <= _MAX_MESSAGE:
        return message
    half = _MAX_MESSAGE // 2
    return f"{message[:half]} ... {message[-half:]}"
