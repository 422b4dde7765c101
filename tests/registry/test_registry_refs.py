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


@pytest.mark.parametrize(
    "bad", ["x/../../tmp/evil", "a/./b", "a/..", "a/.", "a/b/../../c", "ok/../ok"]
)
def test_dot_segments_are_not_names(bad: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        check_name(bad)
    assert err.value.details["field"] == "name"
    assert "'.' or '..'" in err.value.message


@pytest.mark.parametrize("fine", ["a/.hidden", "a/b..c", "v1.2/x", "a...b"])
def test_dots_inside_a_segment_are_fine(fine: str) -> None:
    assert check_name(fine) == fine


@pytest.mark.parametrize("selector", ["²", "٣", "1²", "\uff13", "99999999999", "9" * 5000])
def test_only_ascii_digits_within_range_make_a_version(selector: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        parse_ref(f"p@{selector}")
    assert err.value.details["field"] == "version"
    assert len(err.value.message) < 300


def test_the_largest_version_is_the_database_integer_limit() -> None:
    assert parse_ref(f"p@{2**31 - 1}").version == 2**31 - 1
    with pytest.raises(InvalidInputError):
        parse_ref("p", version=2**31)
    with pytest.raises(InvalidInputError):
        parse_ref("p", version=2**63)


@pytest.mark.parametrize(
    "ref",
    [
        "support",
        "support@staging",
        "support@7",
        "support@latest",
        "support@" + "a" * 64,
        "support@" + "a" * 65,
        "support@²",
        "support@٣",
        "x/../y@production",
        "a//b",
        "support@Prod",
        "support@",
        "@x",
        "",
    ],
)
def test_the_sdk_accepts_exactly_what_the_registry_accepts(ref: str) -> None:
    from promptvault.client import parse_ref as sdk_parse

    try:
        expected = parse_ref(ref)
    except InvalidInputError as err:
        with pytest.raises(InvalidInputError) as sdk_err:
            sdk_parse("http://pv", ref)
        assert sdk_err.value.code == err.code
        return
    key = sdk_parse("http://pv", ref)
    assert (key.name, key.version) == (expected.name, expected.version)
    assert key.label == (None if expected.version else expected.label or "production")


def test_the_sdk_never_puts_a_dot_segment_name_in_a_url() -> None:
    import httpx

    from promptvault.client import PromptVaultClient

    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(404, json={"error": {"code": "prompt_not_found", "message": ""}})

    client = PromptVaultClient("http://pv.test", "k", transport=httpx.MockTransport(handler))
    with pytest.raises(InvalidInputError) as err:
        client.push("victim/../other", template="x")  # the URL would resolve to /other
    assert err.value.details["field"] == "name"
    with pytest.raises(InvalidInputError):
        client.set_label("a/./b", "staging", 1)
    assert sent == []
