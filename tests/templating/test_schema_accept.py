"""The quick acceptor in front of jsonschema never accepts what jsonschema refuses.

Render data is checked on every call; ``schema_accept`` vouches for the common case and
jsonschema decides the rest, so the verdict must always be jsonschema's.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptvault.errors import InvalidInputError
from promptvault.templating.schema_accept import compile_acceptor
from promptvault.templating.variables import data_checker

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False),
    st.sampled_from([1.0, 0.0, 2.0]),
    st.text(max_size=6),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    ),
    max_leaves=8,
)
TYPES = st.sampled_from(["string", "integer", "number", "boolean", "null", "array", "object"])


def leaf_schemas() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "type": st.one_of(TYPES, st.lists(TYPES, min_size=1, max_size=2)),
            "enum": st.lists(st.text(max_size=3), min_size=1, max_size=3),
            "minLength": st.integers(0, 3),
            "maxLength": st.integers(0, 4),
            "pattern": st.sampled_from(["^a", "b$", "[0-9]", "."]),
            "minimum": st.integers(-3, 3),
            "maximum": st.floats(-3, 3, allow_nan=False),
            "exclusiveMinimum": st.integers(-3, 3),
            "exclusiveMaximum": st.integers(-3, 3),
            "minItems": st.integers(0, 2),
            "maxItems": st.integers(0, 3),
            "default": SCALARS,
            "description": st.text(max_size=3),
        },
    )


SCHEMAS = st.recursive(
    leaf_schemas(),
    lambda inner: st.one_of(
        st.builds(
            lambda base, props, extra: {
                **base,
                "properties": props,
                **({"additionalProperties": extra} if extra is not None else {}),
            },
            leaf_schemas(),
            st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
            st.one_of(st.none(), st.booleans(), inner),
        ),
        st.builds(lambda base, items: {**base, "items": items}, leaf_schemas(), inner),
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=SCHEMAS, data=VALUES)
def test_acceptor_never_accepts_what_jsonschema_refuses(schema: dict[str, Any], data: Any) -> None:
    accept = compile_acceptor(schema)
    if accept is not None and accept(data):
        assert jsonschema.Draft202012Validator(schema).is_valid(data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    props=st.dictionaries(st.sampled_from(["a", "b", "c"]), SCHEMAS, max_size=3),
    data=st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), VALUES, max_size=4),
)
def test_data_checker_gives_jsonschemas_verdict(props: dict[str, Any], data: Any) -> None:
    schema = {"type": "object", "properties": props}
    check = data_checker(schema)
    assert check is not None
    valid = jsonschema.Draft202012Validator(schema).is_valid(data)
    if valid:
        check(data)
    else:
        with pytest.raises(InvalidInputError):
            check(data)


@pytest.mark.parametrize(
    ("schema", "data"),
    [
        ({"type": "integer"}, 1.0),  # jsonschema takes 1.0 as an integer; the acceptor defers
        ({"enum": [1, 2]}, 1.0),  # non-string enums are left to jsonschema
        ({"type": "string", "const": "x"}, "x"),  # an unknown keyword: no acceptor at all
    ],
)
def test_what_the_acceptor_cannot_vouch_for_still_passes(schema: dict[str, Any], data: Any) -> None:
    accept = compile_acceptor(schema)
    assert accept is None or not accept(data)
    check = data_checker({"type": "object", "properties": {"v": schema}})
    assert check is not None
    check({"v": data})


def test_refusals_name_the_field() -> None:
    check = data_checker(
        {
            "type": "object",
            "properties": {"code": {"type": "string", "minLength": 5}},
            "additionalProperties": False,
        }
    )
    assert check is not None
    with pytest.raises(InvalidInputError) as err:
        check({"code": "ab"})
    assert err.value.details["field"] == "variables.code"
    with pytest.raises(InvalidInputError):
        check({"code": "abcdef", "extra": 1})
    check({"code": "abcdef"})
