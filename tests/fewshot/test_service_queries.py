"""ExampleService text search and categories: what the web UI's collection page reads."""

from __future__ import annotations

import pytest

from promptvault import CollectionNotFound, Vault
from promptvault.config import Settings

ROWS = [
    {"input": "How do I get a refund?", "output": "Refunds take 5 days.", "category": "billing"},
    {"input": "Where is my parcel?", "output": "Track it online.", "category": "shipping"},
    {"input": "100% sure?", "output": "Yes.", "category": "billing"},
]


def test_contains_and_categories(database_url: str) -> None:
    with Vault(Settings(database_url=database_url)) as vault:
        vault.push("support", template="Q: {{question}}")
        vault.examples.create("faq", prompt="support", query_template="{{question}}")
        vault.examples.add_many("faq", ROWS)
        found = vault.examples.examples("faq", contains="REFUND")
        assert [e.input for e in found] == ["How do I get a refund?"]
        assert [e.input for e in vault.examples.examples("faq", contains="%")] == ["100% sure?"]
        assert sorted(vault.examples.categories("faq")) == ["billing", "shipping"]
        with pytest.raises(CollectionNotFound):
            vault.examples.categories("nope")
