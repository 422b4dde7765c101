"""Declared variables: schema validation, template fit, simple-map normalisation, data."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptvault.errors import InvalidInputError
from promptvault.templating import compile_chat, compile_template
from promptvault.templating import variables as tv

DRAFT = "https://json-schema.org/draft/2020-12/schema"


# --- validate_variables_schema --------------------------------------------------------------


def test_valid_schema_is_returned_as_a_copy() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    out = tv.validate_variables_schema(schema)
    assert out == schema
    out["properties"]["a"]["type"] = "integer"
    assert schema["properties"]["a"]["type"] == "string"


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"type": "object", "properties": {"a": {"type": "strng"}}}, "properties.a.type"),
        ({"type": "object", "properties": []}, "properties"),
        ({"type": "object", "required": "a"}, "required"),
        ({"type": "object", "properties": {"a": {"enum": "x"}}}, "properties.a.enum"),
    ],
)
def test_invalid_schema_names_the_field_and_path(schema: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        tv.validate_variables_schema(schema)
    assert err.value.details["field"] == "variables_schema"
    assert err.value.details["path"] == path


@pytest.mark.parametrize("schema", [["a"], "object", None, {"type": "string"}])
def test_schema_must_describe_an_object(schema: Any) -> None:
    with pytest.raises(InvalidInputError) as err:
        tv.validate_variables_schema(schema)
    assert err.value.details["field"].startswith("variables_schema")


# --- check_template_fits_schema -------------------------------------------------------------

CLOSED = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "patternProperties": {"^x_": {"type": "string"}},
    "additionalProperties": False,
}


def test_template_must_fit_a_closed_schema() -> None:
    tv.check_template_fits_schema({"name", "x_extra"}, CLOSED)
    with pytest.raises(InvalidInputError) as err:
        tv.check_template_fits_schema({"name", "city", "age"}, CLOSED)
    assert err.value.details["variables"] == ["age", "city"]
    assert err.value.details["variable"] == "age"
    assert err.value.details["field"] == "variables_schema.properties.age"
    assert "age, city" in err.value.message


def test_open_schema_allows_undeclared_variables() -> None:
    open_schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    tv.check_template_fits_schema({"name", "city"}, open_schema)
    tv.check_template_fits_schema({"city"}, {**open_schema, "additionalProperties": True})
    tv.check_template_fits_schema({"city"}, None)


@pytest.mark.parametrize("syntax", ["mustache", "jinja"])
def test_accepts_compiled_templates_and_chats(syntax: str) -> None:
    source = "{{name}} {{city}}" if syntax == "mustache" else "{{ name }} {{ city }}"
    template = compile_template(source, syntax=syntax)  # type: ignore[arg-type]
    chat = compile_chat([{"role": "user", "content": source}], syntax=syntax)  # type: ignore[arg-type]
    for compiled in (template, chat):
        with pytest.raises(InvalidInputError) as err:
            tv.check_template_fits_schema(compiled, CLOSED)
        assert err.value.details["variables"] == ["city"]


# --- normalise_variables --------------------------------------------------------------------


def test_simple_map_becomes_json_schema() -> None:
    out = tv.normalise_variables(
        {
            "company": {"type": "string", "description": "Brand"},
            "tone": {"type": "string", "default": "friendly"},
            "count": "integer",
            "note": None,
            "flag": {"type": "boolean", "required": False},
        }
    )
    assert out == {
        "$schema": DRAFT,
        "type": "object",
        "properties": {
            "company": {"type": "string", "description": "Brand"},
            "tone": {"type": "string", "default": "friendly"},
            "count": {"type": "integer"},
            "note": {"type": "string"},
            "flag": {"type": "boolean"},
        },
        "required": ["company", "count", "note"],
    }


def test_list_of_names_and_json_schema_pass_through() -> None:
    assert tv.normalise_variables(["a", "b"])["required"] == ["a", "b"]
    schema = {"type": "object", "properties": {"a": {"type": "number"}}}
    assert tv.normalise_variables(schema) == schema
    assert tv.normalise_variables({"properties": {"a": {}}}) == {"properties": {"a": {}}}


def test_variable_named_like_a_keyword_is_a_simple_map() -> None:
    out = tv.normalise_variables({"type": {"type": "string"}, "name": "string"})
    assert set(out["properties"]) == {"type", "name"}


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"a": {"type": "text"}}, "variables.a.type"),
        ({"a": 3}, "variables.a"),
        ({"a": {"type": "string", "colour": "red"}}, "variables.a.colour"),
        ({"a": {"required": "yes"}}, "variables.a.required"),
        ("a b c", "variables"),
        ({"": "string"}, "variables"),
    ],
)
def test_bad_simple_maps_name_the_field(spec: Any, field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        tv.normalise_variables(spec)
    assert err.value.details["field"] == field


# --- apply_defaults and validate_data -------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "tone": {"type": "string", "default": "friendly", "enum": ["friendly", "formal"]},
        "tags": {"type": "array", "items": {"type": "string"}, "default": []},
        "tier": {
            "type": "object",
            "properties": {
                "pro": {"type": "boolean", "default": False},
                "seats": {"type": "integer"},
            },
        },
    },
    "required": ["name"],
}


def test_apply_defaults_fills_absent_values_recursively_with_copies() -> None:
    out = tv.apply_defaults(SCHEMA, {"name": "Ada", "tier": {"seats": 3}})
    assert out == {
        "name": "Ada",
        "tone": "friendly",
        "tags": [],
        "tier": {"seats": 3, "pro": False},
    }
    out["tags"].append("x")
    assert SCHEMA["properties"]["tags"]["default"] == []  # type: ignore[index]
    assert tv.apply_defaults(SCHEMA, {"name": "A", "tone": "formal"})["tone"] == "formal"
    assert tv.apply_defaults(None, {"a": 1}) == {"a": 1}


def test_defaults_filler_matches_apply_defaults_and_copies_containers() -> None:
    fill = tv.defaults_filler(SCHEMA)
    assert fill is not None
    given = {"name": "Ada", "tier": {"seats": 3}}
    assert fill(given) == tv.apply_defaults(SCHEMA, given)
    assert given == {"name": "Ada", "tier": {"seats": 3}}  # the caller's data is not touched
    first, second = fill({"name": "A"}), fill({"name": "B"})
    first["tags"].append("x")
    assert second["tags"] == []  # every call gets its own copy of a mutable default
    assert "tier" not in first  # no default for the object itself: nothing invented
    assert tv.defaults_filler({"properties": {"name": {"type": "string"}}}) is None
    assert tv.defaults_filler(None) is None


def test_validate_data_accepts_good_data() -> None:
    tv.validate_data(SCHEMA, {"name": "Ada", "tone": "formal", "tags": ["a"], "tier": {"seats": 2}})
    tv.validate_data(None, {"anything": object()})


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "variables.name"),
        ({"name": 3}, "variables.name"),
        ({"name": "a", "tone": "rude"}, "variables.tone"),
        ({"name": "a", "tags": ["ok", 5]}, "variables.tags.1"),
        ({"name": "a", "tier": {"seats": "many"}}, "variables.tier.seats"),
        ({"name": "a", "tier": {"pro": "yes"}}, "variables.tier.pro"),
    ],
)
def test_validate_data_names_the_bad_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        tv.validate_data(SCHEMA, data)
    assert err.value.details["field"] == field
    assert err.value.details["errors"][0]["field"] == field
    assert field in err.value.message


def test_validate_data_lists_every_problem() -> None:
    with pytest.raises(InvalidInputError) as err:
        tv.validate_data(SCHEMA, {"tone": "rude", "tags": [1]})
    fields = {e["field"] for e in err.value.details["errors"]}
    assert fields == {"variables.name", "variables.tone", "variables.tags.0"}


def test_validate_data_requires_a_mapping() -> None:
    with pytest.raises(InvalidInputError) as err:
        tv.validate_data(SCHEMA, ["x"])  # type: ignore[arg-type]
    assert err.value.details["field"] == "variables"


def test_a_schema_checked_once_is_remembered_by_its_exact_value() -> None:
    listed = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    assert tv.validate_variables_schema(listed) == listed
    assert tv.validate_variables_schema(listed) == listed  # from the memo
    # The same text with a tuple is another value, and the metaschema refuses it.
    with pytest.raises(InvalidInputError) as refused:
        tv.validate_variables_schema({**listed, "required": ("a",)})
    assert refused.value.details["path"] == "required"
    with pytest.raises(InvalidInputError):
        tv.validate_variables_schema({**listed, "required": "a"})


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": 10**5000}, "variables.name"),
        ({"name": [1, {"x": -(10**5000)}]}, "variables.name.1.x"),
    ],
)
def test_an_integer_too_long_to_quote_is_named_not_raised(data: dict[str, Any], field: str) -> None:
    # jsonschema quotes the bad value with repr(), which refuses more than 4,300 digits.
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    checker = tv.data_checker(schema)
    assert checker is not None
    for check in (lambda: tv.validate_data(schema, data), lambda: checker(data)):
        with pytest.raises(InvalidInputError) as caught:
            check()
        assert caught.value.details["field"] == field
        assert "4300" in caught.value.details["errors"][0]["message"]


# --- schemas valid without jsonschema ---------------------------------------------------------

_WORDS = st.one_of(st.text(max_size=5), st.integers(), st.none(), st.lists(st.text(max_size=2)))
# Mostly what the metaschema accepts, now and then what it refuses, in every place.
_TEXT = st.one_of(st.text(max_size=3), st.text(max_size=3), _WORDS)
_TYPES = st.one_of(
    st.sampled_from(tv.JSON_TYPES), st.sampled_from(tv.JSON_TYPES), st.just("strng"), _WORDS
)
_NAMES = st.lists(st.sampled_from(["a", "b", "c"]), max_size=3)
_RARELY = st.one_of(
    st.just({}),
    st.just({}),
    st.just({}),
    st.just({}),
    st.fixed_dictionaries({"minimum": st.text(max_size=1)}),
    st.fixed_dictionaries({"minLength": st.integers(-1, 1)}),
    st.fixed_dictionaries({"$schema": st.sampled_from([DRAFT, 7])}),
)


def _with(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {**base, **extra}


def _schema(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        _with,
        st.fixed_dictionaries(
            {},
            optional={
                "type": _TYPES,
                "title": _TEXT,
                "description": _TEXT,
                "default": st.one_of(_WORDS, st.booleans(), st.floats()),
                "enum": st.one_of(st.lists(_WORDS, max_size=2), _WORDS),
                "required": st.one_of(_NAMES, _NAMES, _WORDS),
                "properties": st.one_of(
                    st.dictionaries(st.text(max_size=2), children, max_size=3),
                    st.dictionaries(st.text(max_size=2), children, max_size=3),
                    st.lists(st.text(max_size=1), max_size=1),
                ),
                "additionalProperties": st.one_of(children, st.just(0)),
                "items": st.one_of(children, st.lists(children, max_size=1)),
            },
        ),
        _RARELY,
    )


_SUBSCHEMA = st.deferred(lambda: st.one_of(st.booleans(), _schema(_SUBSCHEMA), st.just(1)))
_SCHEMA = st.builds(
    _with,
    _schema(_SUBSCHEMA),
    st.fixed_dictionaries(
        {},
        optional={
            "$schema": st.sampled_from(
                [DRAFT, DRAFT, DRAFT, "https://json-schema.org/draft-07/schema", 7]
            )
        },
    ),
)


@settings(max_examples=1000, deadline=None)
@given(_SCHEMA)
def test_a_schema_passed_without_jsonschema_is_one_jsonschema_accepts(
    schema: dict[str, Any],
) -> None:
    import jsonschema

    if tv._plainly_valid(schema):
        jsonschema.Draft202012Validator.check_schema(schema)


def test_simple_maps_and_plain_schemas_are_checked_without_jsonschema() -> None:
    probe = """
import sys
from promptvault.templating.variables import normalise_variables
normalise_variables({"company": {"type": "string", "description": "Brand"}, "n": "integer",
                     "tone": {"type": "string", "default": "friendly", "title": "Tone"}})
normalise_variables(["a", "b"])
normalise_variables({"tier": {"type": "object", "default": {}, "properties": {
    "pro": {"type": "boolean", "default": False}}}, "tags": {"type": "array",
    "items": {"type": "string", "enum": ["a", "b"]}}})
normalise_variables({"type": "object", "properties": {"a": {"type": "string"}},
                     "required": ["a"], "additionalProperties": False})
assert "jsonschema" not in sys.modules, "imported for a plain schema"
try:
    normalise_variables({"a": {"type": "string", "minLength": -1}})
except Exception as exc:
    print(type(exc).__name__, exc.details["path"])
print("jsonschema" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    # A keyword outside the plain set is still checked, and refused, by jsonschema.
    assert done.stdout == "InvalidInputError properties.a.minLength\nTrue\n"
