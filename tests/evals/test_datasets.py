"""Datasets: versioned cases, import/export with per-line errors, audited changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from promptvault import Vault
from promptvault.config import Settings
from promptvault.errors import ConflictError, DatasetNotFound, InvalidInputError


@pytest.fixture
def vault(database_url: str) -> Iterator[Vault]:
    v = Vault(Settings(database_url=database_url))
    yield v
    v.close()


def test_every_change_makes_a_version_and_past_versions_read_back(vault: Vault) -> None:
    evals = vault.evals
    made = evals.create_dataset("qa", cases=[{"key": "a", "variables": {"q": "1"}}], actor="ann")
    assert (made.version, made.cases) == (1, 1)
    assert evals.add_cases("qa", [{"key": "b", "variables": {"q": "2"}}]).version == 2
    assert evals.edit_case("qa", "b", {"variables": {"q": "22"}, "tags": ["hard"]}).version == 3
    assert evals.delete_cases("qa", ["a"]).version == 4
    # Nothing changed: no new version.
    same = evals.import_cases("qa", '{"key": "b", "variables": {"q": "22"}, "tags": ["hard"]}\n')
    assert (same.version, same.unchanged) == (4, 1)

    assert [c.key for c in evals.cases("qa", version=1)] == ["a"]
    v2 = {c.key: c.variables for c in evals.cases("qa", version=2)}
    assert v2 == {"a": {"q": "1"}, "b": {"q": "2"}}
    current = evals.cases("qa")
    assert [(c.key, c.variables, c.tags) for c in current] == [("b", {"q": "22"}, ["hard"])]
    with pytest.raises(InvalidInputError) as bad:
        evals.cases("qa", version=9)
    assert bad.value.details["field"] == "version"

    entries = sorted(vault.audit.entries(), key=lambda e: e.seq)
    assert [(e.action, e.target, e.details["version"]) for e in entries] == [
        ("dataset.create", "dataset:qa", 1),
        ("dataset.add", "dataset:qa", 2),
        ("dataset.edit", "dataset:qa", 3),
        ("dataset.delete", "dataset:qa", 4),
    ]
    assert entries[0].actor == "ann"


def test_import_is_all_or_nothing_with_line_and_field(vault: Vault, tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(
        '{"key": "ok", "variables": {"q": "fine"}}\n'
        '{"key": "bad", "variables": "not an object"}\n'
        "\n"
        "{broken\n"
        '{"key": "ok", "variables": {"q": "again"}}\n'
        '{"key": "t", "variables": {}, "tags": ["x", 3]}\n',
        encoding="utf-8",
    )
    with pytest.raises(InvalidInputError) as refused:
        vault.evals.import_cases("qa", path)
    problems = refused.value.details["problems"]
    assert [(p["line"], p["field"]) for p in problems] == [
        (2, "variables"),
        (4, ""),
        (5, "key"),
        (6, "tags[1]"),
    ]
    assert "line 2" in refused.value.message
    with pytest.raises(DatasetNotFound):  # nothing was created
        vault.evals.dataset("qa")

    kept = vault.evals.import_cases("qa", path, partial=True)
    assert kept.added == 1 and [p.line for p in kept.skipped] == [2, 4, 5, 6]
    assert [c.key for c in vault.evals.cases("qa")] == ["ok"]


def test_csv_round_trip_and_replace(vault: Vault, tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    src.write_text(
        'key,question,expected,tags,metadata.source\nk1,"Hi, there",Hello,"a,b",web\nk2,Bye,,,\n',
        encoding="utf-8",
    )
    vault.evals.import_cases("csvset", src)
    cases = vault.evals.cases("csvset")
    assert cases[0].model_dump() == {
        "key": "k1",
        "variables": {"question": "Hi, there"},
        "expected": "Hello",
        "tags": ["a", "b"],
        "metadata": {"source": "web"},
    }
    assert cases[1].expected is None
    out = tmp_path / "out.csv"
    vault.evals.export_cases("csvset", out, fmt="csv")
    vault.evals.import_cases("copy", out)
    copied = vault.evals.cases("copy")
    assert [c.model_dump() for c in copied] == [
        cases[0].model_dump(),
        cases[1].model_dump() | {"metadata": {"source": ""}},  # an empty cell is text
    ]
    jsonl = vault.evals.export_cases("csvset")
    replaced = vault.evals.import_cases("csvset", jsonl.splitlines()[0] + "\n", replace=True)
    assert (replaced.removed, [c.key for c in vault.evals.cases("csvset")]) == (1, ["k1"])


def test_bad_input_names_the_field(vault: Vault) -> None:
    with pytest.raises(InvalidInputError) as bad_name:
        vault.evals.create_dataset("no/slash")
    assert bad_name.value.details["field"] == "name"
    with pytest.raises(InvalidInputError) as bad_eval:
        vault.evals.create_dataset("x", evaluators=[{"type": "regex", "pattern": "("}])
    assert bad_eval.value.details["field"] == "evaluators[0].pattern"
    vault.evals.create_dataset("x", cases=[{"key": "a", "variables": {}}])
    with pytest.raises(ConflictError):
        vault.evals.create_dataset("x")
    with pytest.raises(ConflictError):
        vault.evals.add_cases("x", [{"key": "a", "variables": {"changed": True}}])
    with pytest.raises(InvalidInputError) as missing:
        vault.evals.delete_cases("x", ["nope"])
    assert missing.value.details == {"field": "key", "key": "nope"}
    with pytest.raises(DatasetNotFound) as near:
        vault.evals.dataset("xx")
    assert near.value.details["suggestions"] == ["x"]
