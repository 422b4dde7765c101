"""Collections and examples on SQLite and PostgreSQL: writes, audit, import/export, caching."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from promptvault import Vault
from promptvault.config import Settings
from promptvault.errors import (
    CollectionNotFound,
    ConflictError,
    InvalidInputError,
    PromptNotFound,
    TemplateSyntaxError,
)
from promptvault.fewshot.embedders import HashingEmbedder


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def vault(database_url: str, clock: FakeClock) -> Iterator[Vault]:
    v = Vault(Settings(database_url=database_url), clock=clock)
    v.push("support", template="Q: {{question}}", author="setup")
    yield v
    v.close()


ROWS = [
    {"input": "How do I get a refund?", "output": "Refunds take 5 days.", "category": "billing"},
    {"input": "Where is my parcel?", "output": "Track it online.", "category": "shipping"},
    {"input": "I forgot my password", "output": "Use the reset link.", "category": "account"},
    {"input": "Refund for a damaged item", "output": "Send a photo.", "category": "billing"},
]


def test_create_add_list_and_audit(vault: Vault) -> None:
    created = vault.examples.create("faq", prompt="support", k=2, actor="alice")
    assert (created.embedder, created.embedder_spec, created.dim) == (
        "hashing",
        "hashing:v1:384",
        384,
    )
    assert created.prompt == "support" and created.size == 0 and created.revision == 1
    added = vault.examples.add_many("faq", ROWS, actor="alice")
    assert [e.input for e in added] == [r["input"] for r in ROWS]
    one = vault.examples.add("faq", "Cancel my plan", "Go to settings.", quality=0.5, actor="bob")
    info = vault.examples.get("faq")
    assert info.size == 5 and info.revision == 3
    listed = vault.examples.examples("faq")
    assert [e.id for e in listed] == [*[e.id for e in added], one.id]
    assert listed[-1].quality == 0.5 and listed[0].category == "billing"
    assert [c.name for c in vault.examples.list(prompt="support")] == ["faq"]
    actions = [(e.action, e.actor) for e in vault.audit.entries(target="collection:faq")]
    assert actions == [
        ("collection.create", "alice"),
        ("example.add", "alice"),
        ("example.add", "bob"),
    ]
    assert vault.audit.verify().ok
    # stored vectors are the embedder's, as float32 bytes
    with vault.db.engine.connect() as conn:
        blob = conn.execute(text("SELECT embedding FROM examples WHERE id = :i"), {"i": one.id})
        stored = np.frombuffer(bytes(blob.scalar_one()), dtype="<f4")
    np.testing.assert_allclose(stored, HashingEmbedder().embed(["Cancel my plan"])[0])


def test_bad_collection_input(vault: Vault) -> None:
    with pytest.raises(InvalidInputError) as err:
        vault.examples.create("no/slash")
    assert err.value.details["field"] == "name"
    with pytest.raises(InvalidInputError) as err:
        vault.examples.create("x", embedder="word2vec")
    assert err.value.details["field"] == "embedder"
    with pytest.raises(TemplateSyntaxError):
        vault.examples.create("x", example_template="{{#open}}")
    with pytest.raises(PromptNotFound):
        vault.examples.create("x", prompt="nope")
    vault.examples.create("x")
    with pytest.raises(ConflictError):
        vault.examples.create("x")
    with pytest.raises(CollectionNotFound) as nf:
        vault.examples.get("xx")
    assert nf.value.code == "collection_not_found" and nf.value.details["suggestions"] == ["x"]
    with pytest.raises(InvalidInputError) as err:
        vault.examples.add_many("x", [{"input": "a", "output": "b"}, {"input": "a", "ouput": "b"}])
    assert err.value.details["field"] == "examples[1].ouput"
    assert vault.examples.get("x").size == 0  # nothing half-written


def test_edit_reembeds_and_delete(vault: Vault) -> None:
    vault.examples.create("faq")
    added = vault.examples.add_many("faq", ROWS)
    target = added[2]
    before = vault.examples.search("faq", "password reset", k=1)
    assert before[0][0].id == target.id
    vault.examples.edit("faq", target.id, input="Parcel never arrived", quality=0.9)
    hits = vault.examples.search("faq", "my parcel never arrived", k=2)
    assert {e.id for e, _ in hits} == {target.id, added[1].id}
    assert hits[0][1] >= hits[1][1]
    assert vault.examples.examples("faq", ids=[target.id])[0].quality == 0.9
    with pytest.raises(InvalidInputError):
        vault.examples.edit("faq", 999_999, output="x")
    assert vault.examples.remove("faq", [added[0].id, 999_999]) == 1
    assert [e.id for e in vault.examples.examples("faq")] == [e.id for e in added[1:]]
    assert all(e.id != added[0].id for e, _ in vault.examples.search("faq", "refund", k=10))
    vault.examples.delete("faq")
    with pytest.raises(CollectionNotFound):
        vault.examples.get("faq")


def test_import_jsonl_and_csv_per_row_errors(vault: Vault, tmp_path: Path) -> None:
    vault.examples.create("faq")
    lines = [
        json.dumps({"input": "a refund", "output": "yes", "quality": 0.7}),
        "",
        "{not json",
        json.dumps({"input": "", "output": "empty input"}),
        json.dumps({"input": "ok", "output": "fine", "metadata": {"lang": "en"}}),
        json.dumps({"input": "q", "output": "o", "quality": 3}),
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    seen: list[tuple[int, int]] = []
    report = vault.examples.import_file("faq", path, progress=lambda d, t: seen.append((d, t)))
    assert (report.rows, report.added) == (5, 2)
    assert [(e.line, e.field) for e in report.errors] == [(3, None), (4, "input"), (6, "quality")]
    assert seen[-1] == (2, 2)
    # strict: one bad row rejects the whole file
    with pytest.raises(InvalidInputError) as err:
        vault.examples.import_file("faq", path, strict=True)
    assert err.value.details["line"] == 3 and len(err.value.details["errors"]) == 3
    assert vault.examples.get("faq").size == 2
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text(
        'input,output,category,quality,metadata\n"multi\nline",answer,billing,0.5,"{""a"": 1}"\n'
        "x,y,,2,\n"
        'good,row,,,"[1]"\n'
        "fine,also fine,,,\n",
        encoding="utf-8",
    )
    report = vault.examples.import_file("faq", csv_path)
    assert report.added == 2
    assert [(e.line, e.field) for e in report.errors] == [(4, "quality"), (5, "metadata")]
    got = vault.examples.examples("faq")
    assert got[2].input == "multi\nline" and got[2].metadata == {"a": 1}
    # export round trip
    exported = vault.examples.export("faq", format="csv")
    vault.examples.create("copy")
    again = vault.examples.import_text("copy", exported, format="csv")
    assert again.added == 4 and not again.errors
    pairs = [(e.input, e.output, e.category, e.quality, e.metadata) for e in got]
    copied = [
        (e.input, e.output, e.category, e.quality, e.metadata)
        for e in vault.examples.examples("copy")
    ]
    assert copied == pairs
    jsonl = vault.examples.export("faq")
    assert [json.loads(x)["input"] for x in jsonl.splitlines()] == [e.input for e in got]


def test_set_embedder_reembeds_with_progress(vault: Vault) -> None:
    vault.examples.create("faq")
    vault.examples.add_many("faq", ROWS * 100)
    small = HashingEmbedder(dim=64)
    vault.examples._embedders["minilm"] = small  # a stand-in, so no model loads here
    steps: list[tuple[int, int]] = []
    changed = vault.examples.set_embedder(
        "faq", "minilm", progress=lambda d, t: steps.append((d, t))
    )
    assert (changed.embedder, changed.embedder_spec, changed.dim) == ("minilm", small.spec, 64)
    assert steps == [(256, 400), (400, 400)]
    hits = vault.examples.search("faq", "password", k=1)
    assert hits[0][0].input == "I forgot my password"
    assert vault.audit.entries(action="collection.embedder")[0].details["to"] == small.spec


def test_usage_counts_are_batched(database_url: str, clock: FakeClock) -> None:
    v = Vault(Settings(database_url=database_url), clock=clock)
    try:
        v.push("support", template="Q: {{question}}\n{{{examples}}}")
        v.examples.usage.every = 3
        v.examples.create("faq", prompt="support", query_template="{{question}}", k=1)
        v.examples.add_many("faq", ROWS)
        statements: list[str] = []

        from sqlalchemy import event

        def spy(conn: object, cursor: object, statement: str, *args: object) -> None:
            if statement.lstrip().upper().startswith("UPDATE EXAMPLES"):
                statements.append(statement)

        event.listen(v.db.engine, "before_cursor_execute", spy)
        for _ in range(2):
            v.build("support", {"question": "refund please"}, examples={})
        assert statements == []  # counted in memory only
        v.build("support", {"question": "where is my parcel"}, examples={})
        assert len(statements) == 1  # one batched write for three builds
        counts = {e.input: e.usage_count for e in v.examples.examples("faq")}
        assert counts["How do I get a refund?"] + counts["Refund for a damaged item"] == 2
        assert counts["Where is my parcel?"] == 1
        v.build("support", {"question": "password"}, examples={})
    finally:
        v.close()  # flushes the pending count
    again = Vault(Settings(database_url=database_url))
    try:
        assert sum(e.usage_count for e in again.examples.examples("faq")) == 4
    finally:
        again.close()


def test_other_processes_converge_within_the_ttl(database_url: str, clock: FakeClock) -> None:
    a = Vault(Settings(database_url=database_url, label_ttl=2.0), clock=clock)
    b = Vault(Settings(database_url=database_url, label_ttl=2.0), clock=clock)
    try:
        a.examples.create("faq")
        a.examples.add_many("faq", ROWS[:2])
        assert b.examples.cache.get("faq").index.n == 2
        loads = b.examples.cache.loads
        a.examples.add("faq", "new one", "answer")
        assert b.examples.cache.get("faq").index.n == 2  # still within the TTL
        clock.advance(2.5)
        assert b.examples.cache.get("faq").index.n == 3  # revision changed: reloaded
        assert b.examples.cache.loads == loads + 1
        clock.advance(2.5)
        b.examples.cache.get("faq")
        assert b.examples.cache.loads == loads + 1  # same revision: one cheap check only
        # writes through the same process update the snapshot without a reload
        a.examples.cache.get("faq")
        a_loads = a.examples.cache.loads
        a.examples.add("faq", "another", "answer")
        assert a.examples.cache.get("faq").index.n == 4
        assert a.examples.cache.loads == a_loads
    finally:
        a.close()
        b.close()


def test_appends_share_the_matrix_buffer(vault: Vault) -> None:
    vault.examples.create("faq")
    vault.examples.add_many("faq", ROWS)
    first = vault.examples.cache.get("faq").index
    vault.examples.add("faq", "one more", "x")
    second = vault.examples.cache.get("faq").index
    assert second.matrix.base is first.matrix.base  # the same memory, a longer view
    assert second.matrix.flags.c_contiguous and second.n == first.n + 1
    assert first.n == 4  # the old snapshot still sees its own rows only
    np.testing.assert_allclose(second.matrix[-1], HashingEmbedder().embed(["one more"])[0])


def test_cached_snapshot_after_writes_matches_a_fresh_load(vault: Vault) -> None:
    vault.examples.create("faq")
    vault.examples.add_many("faq", ROWS)
    vault.examples.cache.get("faq")  # cached: the writes below update it in place
    added = vault.examples.add("faq", "Refund still missing", "Escalate.", category="billing")
    vault.examples.add("faq", "Parcel damaged", "Send a photo.", category="shipping", quality=0.5)
    vault.examples.edit("faq", added.id, input="Where is my refund?", quality=0.25)
    first = vault.examples.examples("faq")[0]
    vault.examples.remove("faq", [first.id])
    loads = vault.examples.cache.loads

    def searches() -> list[list[tuple[int, float]]]:
        return [
            [(e.id, round(s, 6)) for e, s in vault.examples.search("faq", text, **filters)]
            for text in ("refund", "parcel", "password")
            for filters in ({}, {"category": "billing"}, {"min_quality": 0.5})
        ]

    incremental = searches()
    assert vault.examples.cache.loads == loads  # served by the updated snapshot
    vault.examples.cache.drop("faq")
    assert searches() == incremental
    assert vault.examples.cache.loads == loads + 1
    assert [e.id for e, _ in vault.examples.search("faq", "Where is my refund?", k=1)] == [added.id]
