"""Names, labels and references."""

from __future__ import annotations

import pytest

from promptvault.errors import InvalidInputError, LabelInvalidError
from promptvault.registry.refs import Ref, check_label, check_name, parse_ref


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("support", Ref("support")),
        ("support@staging", Ref("support", label="staging")),
        ("support@latest", Ref("support", label="latest")),
        ("support@7", Ref("support", version=7)),
        ("team/support.v2-x_y@prod-eu_1", Ref("team/support.v2-x_y", label="prod-eu_1")),
    ],
)
def test_parse_ref(ref: str, expected: Ref) -> None:
    assert parse_ref(ref) == expected


def test_parse_ref_keywords_and_selector() -> None:
    assert parse_ref("a", label="staging") == Ref("a", label="staging")
    assert parse_ref("a", version=3) == Ref("a", version=3)
    assert parse_ref("a").selector == "production"
    assert parse_ref("a@4").selector == 4
    with pytest.raises(InvalidInputError) as err:
        parse_ref("a@staging", version=3)
    assert err.value.details["field"] == "ref"


@pytest.mark.parametrize("bad", ["", "-x", "a b", "a@", "x" * 201, "a//b", "folder/", "é"])
def test_bad_names(bad: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_ref(bad)


@pytest.mark.parametrize("bad", ["Prod", "1", "12", "-x", "a" * 65, "with space", ""])
def test_bad_labels(bad: str) -> None:
    with pytest.raises(LabelInvalidError) as err:
        check_label(bad)
    assert err.value.code == "label_invalid"


def test_latest_not_settable_but_resolvable() -> None:
    with pytest.raises(LabelInvalidError):
        check_label("latest")
    assert check_label("latest", settable=False) == "latest"
    assert check_name("a/b/c") == "a/b/c"


def test_version_zero_rejected() -> None:
    with pytest.raises(InvalidInputError) as err:
        parse_ref("a@0")
    assert err.value.details["field"] == "version"
