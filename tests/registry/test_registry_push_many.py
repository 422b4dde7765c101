"""``Vault.push_many``: a set of pushes in one transaction, checked as if pushed in order."""

from __future__ import annotations

import pytest

from promptvault import Vault
from promptvault.errors import (
    ConflictError,
    InvalidInputError,
    PromptNotFound,
    TemplateLimitError,
    TemplateSyntaxError,
)


def names(vault: Vault) -> list[str]:
    return [p.name for p in vault.list_prompts(include_archived=True)]


def test_a_failure_halfway_writes_none_of_the_set(vault: Vault) -> None:
    vault.push("old", template="old {{x}}")
    vault.archive("old")
    before = vault.audit.entries()
    with pytest.raises(ConflictError) as failed:
        vault.push_many(
            [
                {"name": "first", "template": "one {{x}}"},
                {"name": "second", "template": "two {{x}}", "labels": ["staging"]},
                {"name": "old", "template": "new text"},  # archived: refused in the write
                {"name": "fourth", "template": "four"},
            ]
        )
    assert failed.value.details["name"] == "old"
    assert names(vault) == ["old"]
    assert vault.audit.entries() == before
    with pytest.raises(PromptNotFound):
        vault.get("first")


def test_a_set_is_written_with_labels_tags_and_unchanged_items(vault: Vault) -> None:
    vault.push("kept", template="same {{x}}")
    results = vault.push_many(
        [
            {"name": "kept", "template": "same {{x}}"},
            {"name": "fresh", "template": "hi {{x}}", "tags": ["t"], "labels": ["staging"]},
            {"name": "chat", "template": [{"role": "user", "content": "{{q}}"}]},
        ]
    )
    assert [(r.version.name, r.version.version, r.created) for r in results] == [
        ("kept", 1, False),
        ("fresh", 1, True),
        ("chat", 1, True),
    ]
    assert vault.get("fresh@staging").version == 1
    assert vault.get("fresh").labels == ("production", "staging")
    assert vault.render("chat", {"q": "?"}) == [{"role": "user", "content": "?"}]
    assert [p.tags for p in vault.list_prompts(tag="t")] == [("t",)]
    assert vault.push_many([]) == []


def test_a_partial_may_name_a_prompt_earlier_in_the_set(vault: Vault) -> None:
    vault.push_many(
        [
            {"name": "base", "template": "base {{x}}"},
            {"name": "outer", "template": "outer {{> base}}"},
        ]
    )
    assert vault.render("outer", {"x": 1}) == "outer base 1"


def test_a_partial_naming_a_prompt_later_in_the_set_is_unknown(vault: Vault) -> None:
    with pytest.raises(TemplateSyntaxError) as failed:
        vault.push_many(
            [
                {"name": "outer", "template": "outer {{> base}}"},
                {"name": "base", "template": "base {{x}}"},
            ]
        )
    assert failed.value.details["name"] == "outer"
    assert names(vault) == []


def test_a_cycle_through_the_set_is_refused(vault: Vault) -> None:
    vault.push("a", template="a")
    with pytest.raises(TemplateLimitError) as failed:
        vault.push_many(
            [
                {"name": "b", "template": "b {{> a}}"},
                # a@production moves to the new a, which includes b, which includes a
                {"name": "a", "template": "a {{> b}}", "labels": ["production"]},
            ]
        )
    assert failed.value.details["limit"] == "partial_cycle"
    assert failed.value.details["name"] == "a"
    assert names(vault) == ["a"] and vault.get("a").version == 1
    # Without the label move there is no cycle: a@production stays at 1.
    vault.push_many(
        [{"name": "b", "template": "b {{> a}}"}, {"name": "a", "template": "a {{> b}}"}]
    )
    assert vault.render("a@2") == "a b a"


def test_a_prompt_twice_in_one_set_is_refused(vault: Vault) -> None:
    with pytest.raises(InvalidInputError) as failed:
        vault.push_many([{"name": "x", "template": "1"}, {"name": "x", "template": "2"}])
    assert failed.value.details == {"field": "name", "name": "x"}
    assert names(vault) == []
