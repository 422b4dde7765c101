"""'Did you mean' suggestions come from a bounded, indexed candidate set."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, insert

from promptvault import Vault
from promptvault.errors import CollectionNotFound, PromptNotFound
from promptvault.storage.tables import PromptRow

MANY = 3000


def _many_prompts(vault: Vault) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "name": f"alpha_{i:04d}",
            "description": "",
            "type": "text",
            "archived": False,
            "latest_version": 0,
            "created_at": now,
            "created_by": "t",
            "updated_at": now,
            "updated_by": "t",
        }
        for i in range(MANY)
    ]
    with vault.db.engine.begin() as conn:
        conn.execute(insert(PromptRow), rows)
    for name in ("customer_support", "team/support", "greeting"):
        vault.push(name, template="x")


@contextmanager
def statements(vault: Vault) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(vault.db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(vault.db.engine, "before_cursor_execute", record)


@pytest.mark.parametrize(
    ("typo", "expected"),
    [
        ("custmer_support", "customer_support"),
        ("Customer_support", "customer_support"),
        ("team/suport", "team/support"),
        ("greting", "greeting"),
        ("alpha_01234", "alpha_0123"),
    ],
)
def test_a_miss_suggests_near_names_reading_a_bounded_number(
    vault: Vault, typo: str, expected: str
) -> None:
    _many_prompts(vault)
    with statements(vault) as seen, pytest.raises(PromptNotFound) as err:
        vault.get(typo)
    assert expected in err.value.details["suggestions"]
    assert f"did you mean {err.value.details['suggestions'][0]}" in err.value.message
    # The lookup by name, then index range scans with a LIMIT: never every name.
    reads = [s for s in seen if "FROM prompts" in s and "prompts.name = " not in s]
    assert reads and all("LIMIT" in s for s in reads), reads


def test_a_missing_collection_suggests_without_reading_every_collection(vault: Vault) -> None:
    for i in range(30):
        vault.examples.create(f"set_{i:02d}", embedder="hashing")
    vault.examples.create("faq", embedder="hashing")
    with statements(vault) as seen, pytest.raises(CollectionNotFound) as err:
        vault.examples.examples("fqa")
    assert err.value.details["suggestions"] == ["faq"]
    reads = [s for s in seen if "FROM collections" in s]
    assert reads and all("LIMIT" in s or "WHERE collections.name =" in s for s in reads), reads
