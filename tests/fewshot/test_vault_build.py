"""``vault.build`` with examples on SQLite and PostgreSQL, and its bad inputs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from promptvault import Vault
from promptvault.config import Settings
from promptvault.errors import CollectionNotFound, InvalidInputError, MissingVariablesError

CLOCK = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ROWS = [
    {"input": i, "output": o, "category": c, "quality": q}
    for i, o, c, q in [
        ("How do I get a refund?", "Refunds take 5 days.", "billing", 0.9),
        ("Where is my parcel?", "Track it online.", "shipping", 0.8),
        ("I forgot my password", "Use the reset link.", "account", 0.7),
        ("Refund for a damaged item", "Send a photo.", "billing", 0.6),
    ]
]


@pytest.fixture
def vault(database_url: str) -> Iterator[Vault]:
    v = Vault(Settings(database_url=database_url))
    v.push(
        "support",
        template=[
            {"role": "system", "content": "You help {{company}} customers. Today is {{today}}."},
            {"role": "user", "content": "{{question}}"},
        ],
        config={"model": "gpt-4o", "temperature": 0.2},
    )
    v.push("support_text", template="Examples:\n{{{examples}}}\n\nQ: {{question}}")
    v.examples.create("faq", prompt="support", query_template="{{question}}", k=2)
    v.examples.add_many("faq", ROWS)
    yield v
    v.close()


VARS = {"company": "Acme", "question": "I want a refund"}


def test_semantic_examples_become_chat_turns(vault: Vault) -> None:
    req = vault.build(
        "support", VARS, examples={"collection": "faq", "k": 2, "query": "{{question}}"}, now=CLOCK
    )
    roles = [m["role"] for m in req.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert req.messages[0]["content"] == "You help Acme customers. Today is 2024-05-01."
    assert {req.messages[1]["content"], req.messages[3]["content"]} == {
        "How do I get a refund?",
        "Refund for a damaged item",
    }
    md = req.metadata
    assert (md.prompt, md.version, md.label, md.collection, md.strategy) == (
        "support", 1, "production", "faq", "semantic"
    )  # fmt: skip
    assert md.examples_used == 2 and md.examples_as == "messages" and md.examples_reason is None
    assert req.model == "gpt-4o" and req.params == {"temperature": 0.2}


def test_attached_collection_defaults_and_text_examples(vault: Vault) -> None:
    req = vault.build("support", VARS, examples={})  # the attached collection, its query and k
    assert req.metadata.collection == "faq" and req.metadata.examples_used == 2
    vault.examples.attach("faq", "support_text")
    text = vault.build("support_text", VARS, examples={"strategy": "quality", "k": 3})
    body = text.messages[0]["content"]
    assert body.startswith("Examples:\nExample 1:\nInput: How do I get a refund?\nOutput: Refunds")
    assert "Example 3:\nInput: I forgot my password" in body and "Example 4" not in body
    assert text.metadata.examples_as == "text"


def test_filters_strategies_and_budget(vault: Vault) -> None:
    billing = vault.build(
        "support", VARS, examples={"collection": "faq", "strategy": "diverse", "k": 3}
    )
    assert billing.metadata.examples_used == 3
    only = vault.build(
        "support",
        VARS,
        examples={"collection": "faq", "k": 5, "filters": {"category": "shipping"}},
    )
    assert only.metadata.examples_used == 1 and only.messages[1]["content"] == "Where is my parcel?"
    none = vault.build(
        "support", VARS, examples={"collection": "faq", "filters": {"min_quality": 0.95}}
    )
    assert none.metadata.examples_used == 0
    assert none.metadata.examples_reason == "no example passed the filters"
    tight = vault.build("support", VARS, examples={"collection": "faq", "token_budget": 1})
    assert tight.metadata.examples_reason == "no example fits the token budget of 1"
    seeded = [
        vault.build("support", VARS, examples={"strategy": "random", "seed": 7, "k": 2})
        for _ in range(2)
    ]
    assert seeded[0].metadata.example_ids == seeded[1].metadata.example_ids


def test_bad_input(vault: Vault) -> None:
    with pytest.raises(CollectionNotFound) as nf:
        vault.build("support", VARS, examples={"collection": "faqs"})
    assert nf.value.code == "collection_not_found" and nf.value.details["suggestions"] == ["faq"]
    with pytest.raises(InvalidInputError) as err:
        vault.build("support", VARS, examples={"collection": "faq", "k": -1})
    assert err.value.code == "invalid_input" and err.value.details["field"] == "examples.k"
    with pytest.raises(MissingVariablesError) as missing:
        vault.build("support", {"company": "Acme"}, examples={"query": "{{question}}"})
    assert missing.value.details["field"] == "examples.query"
    assert missing.value.names == ["question"]
    with pytest.raises(InvalidInputError) as err:
        vault.build("support", VARS, examples={"colection": "faq"})
    assert err.value.details["field"] == "examples.colection"
    with pytest.raises(InvalidInputError) as err:
        vault.build("support_text", VARS, examples={"k": 1, "query": "{{question}}"})
    assert err.value.details["field"] == "examples.collection"  # none attached to it
    with pytest.raises(InvalidInputError) as err:
        vault.build("support", VARS, examples={"strategy": "nearest"})
    assert err.value.details["field"] == "examples.strategy"


def test_empty_collection_builds_with_zero_examples(vault: Vault) -> None:
    vault.examples.create("empty")
    req = vault.build("support", VARS, examples={"collection": "empty", "query": "{{question}}"})
    assert req.metadata.examples_used == 0 and req.metadata.example_ids == []
    assert req.metadata.examples_reason == "collection 'empty' is empty"
    assert [m["role"] for m in req.messages] == ["system", "user"]
    zero = vault.build("support", VARS, examples={"collection": "faq", "k": 0})
    assert zero.metadata.examples_reason == "k is 0"


def test_build_without_examples_matches_render(vault: Vault) -> None:
    req = vault.build("support", VARS, now=CLOCK)
    rendered = vault.render("support", {**VARS, "today": "2024-05-01"})
    assert req.messages == rendered
    assert req.metadata.examples_reason == "no examples requested"


def test_build_resolves_partials_like_render_and_follows_label_moves(vault: Vault) -> None:
    vault.push("common/safety", template="Never share {{secret_kind}}.")
    vault.push(
        "guarded",
        template=[
            {"role": "system", "content": "{{> common/safety}} Be brief."},
            {"role": "user", "content": "{{question}}"},
        ],
    )
    data = {"secret_kind": "passwords", "question": "Hi"}
    req = vault.build("guarded", data, now=CLOCK)
    assert req.messages == vault.render("guarded", data)
    assert req.messages[0]["content"] == "Never share passwords. Be brief."

    second = vault.push("common/safety", template="Do not reveal {{secret_kind}}.")
    vault.set_label("common/safety", "production", second.version.version)
    moved = vault.build("guarded", data, now=CLOCK)
    assert moved.messages[0]["content"] == "Do not reveal passwords. Be brief."
