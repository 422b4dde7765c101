"""``promptvault list`` on a local SQLite home: the read path without Typer, pydantic or
SQLAlchemy prints exactly what the full command prints, and leaves every other case to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptvault import Vault
from promptvault.cli._fastlist import list_fast
from promptvault.config import Settings

from .quick_paths import HEAVY, OFFSET_TIME, among, edit_database, probe, run, same_as_full


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "home"
    monkeypatch.setenv("PROMPTVAULT_HOME", str(folder))
    monkeypatch.chdir(tmp_path)
    with Vault(Settings(home=folder)) as vault:
        vault.push("support", template="Hi {{x}}", tags=["support", "cs"], description="Help")
        vault.push("support", template="v2 {{x}}", labels=["staging", "qa"])
        vault.push("team/a", template="a", description="100% of the_time")
        vault.push("team/b", template=[{"role": "user", "content": "b"}], tags=["chat"])
        vault.push("teamx", template="x", description="Not in TEAM/")
        vault.push("Alpha", template="upper case sorts first", tags=["cs"])
        vault.push("old", template="archived", tags=["support"])
        vault.archive("old")
    # A time on the second: pydantic and isoformat both leave out the fraction.
    edit_database(
        folder, "UPDATE prompts SET updated_at = '2024-05-01 12:30:00.000000' WHERE name = 'teamx'"
    )
    yield folder


COVERED = [
    ["list"],
    ["list", "--json"],
    ["list", "--archived"],
    ["list", "--archived", "--json"],
    ["list", "--tag", "support"],
    ["list", "-t", "support", "--archived", "--json"],
    ["list", "--tag=cs"],
    ["list", "-s", "SUPPORT"],
    ["list", "--search", "help"],  # the description
    ["list", "--search", "%"],  # a literal per cent, not a wildcard
    ["list", "--search", "e_t"],  # a literal underscore
    ["list", "--folder", "team"],
    ["list", "--folder=team/", "--json"],
    ["list", "--folder", "TEAM"],
    ["list", "--tag", "nothing"],
    ["list", "--tag", "nothing", "--json"],
]


@pytest.mark.parametrize("args", COVERED, ids=" ".join)
def test_covered_listings_print_what_the_full_command_prints(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert same_as_full(list_fast, args, capsys)[1]


def test_the_listing_is_read_as_the_registry_reads_it(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert list_fast(["--archived", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in listed] == ["Alpha", "old", "support", "team/a", "team/b", "teamx"]
    support = listed[2]
    assert support["labels"] == {"production": 1, "qa": 2, "staging": 2}
    assert support["tags"] == ["cs", "support"]
    assert (support["latest_version"], support["archived"]) == (2, False)
    assert listed[1]["archived"] is True
    assert listed[-1]["updated_at"] == "2024-05-01T12:30:00Z"
    assert list_fast(["--folder", "team"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in table] == ["NAME", "team/a", "team/b"]


def test_an_empty_registry_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "empty"
    monkeypatch.setenv("PROMPTVAULT_HOME", str(folder))
    monkeypatch.chdir(tmp_path)
    Vault(Settings(home=folder)).close()
    code, out, modules = probe(["list"])
    assert (code, out, among(modules, HEAVY)) == (0, "no prompts\n", [])


UNCOVERED = [
    ["list", "extra"],
    ["list", "--tag"],
    ["list", "-t", "a", "-t", "b"],  # click keeps the last
    ["list", "--tag", ""],
    ["list", "--search", "x" * 1001],  # the registry refuses it, naming the field
    ["list", "--search", "a\x00b"],
    ["list", "--limit", "5"],
    ["list", "--help"],
    ["list", "--json=yes"],
]


@pytest.mark.parametrize("args", UNCOVERED, ids=lambda a: " ".join(a)[:30])
def test_other_cases_go_to_the_full_command(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert list_fast(args[1:]) is None
    assert capsys.readouterr().out == ""
    assert run(args, capsys, fast=True) == run(args, capsys, fast=False)


def test_a_missing_database_or_a_server_goes_to_the_full_command(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert list_fast([]) == 0
    monkeypatch.setenv("PROMPTVAULT_HOME", str(tmp_path / "new"))
    assert list_fast([]) is None  # the full command creates the database
    assert not (tmp_path / "new").exists()
    monkeypatch.setenv("PROMPTVAULT_HOME", str(home))
    monkeypatch.setenv("PROMPTVAULT_URL", "http://127.0.0.1:9")
    assert list_fast([]) is None
    monkeypatch.delenv("PROMPTVAULT_URL")
    monkeypatch.setenv("PROMPTVAULT_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1:9/x")
    assert list_fast([]) is None


def test_a_time_stored_in_another_form_goes_to_the_full_command(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_database(home, f"UPDATE prompts SET updated_at = '{OFFSET_TIME}' WHERE name = 'teamx'")
    for args in (["list"], ["list", "--json"]):
        assert list_fast(args[1:]) is None
        assert run(args, capsys, fast=True) == run(args, capsys, fast=False)
    assert "2024-05-01 10:30" in run(["list"], capsys, fast=True)[1]


def test_a_listing_loads_no_database_layer_typer_or_pydantic(home: Path) -> None:
    code, out, modules = probe(["list", "--json", "-t", "cs"])
    assert code == 0
    assert [p["name"] for p in json.loads(out)] == ["Alpha", "support"]
    assert among(modules, (*HEAVY, "rich")) == []
