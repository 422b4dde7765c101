"""``promptvault push`` of a folder: one transaction for the changed files, and unchanged
files told from the listing's hashes without reading each version."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promptvault import Vault
from promptvault.config import Settings


def test_a_folder_is_pushed_all_or_nothing(cli: Any, write: Any) -> None:
    write("prompts/a_first.yaml", "template: first {{x}}\n")
    write("prompts/b_old.yaml", "template: old {{x}}\n")
    assert cli("push").exit_code == 0
    with Vault(Settings()) as vault:
        vault.archive("b_old")
    write("prompts/a_first.yaml", "template: first, changed {{x}}\n")
    write("prompts/c_new.yaml", "template: new {{x}}\n")
    write("prompts/b_old.yaml", "template: old, changed {{x}}\n")

    failed = cli("push")
    assert failed.exit_code == 1
    assert failed.stderr.startswith("error: prompts/b_old.yaml: prompt 'b_old' is archived")
    listed = {p["name"]: p["latest_version"] for p in json.loads(cli("list", "--json").stdout)}
    assert listed == {"a_first": 1}  # neither the change before nor the file after it

    write("prompts/b_old.yaml", "template: old {{x}}\n")  # back to what b_old holds
    done = cli("push")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines()[1:] == [
        "a_first  created v2    prompts/a_first.yaml",
        "b_old    unchanged v1  prompts/b_old.yaml",
        "c_new    created v1    prompts/c_new.yaml",
        "2 created, 1 unchanged",
    ]


def test_unchanged_files_are_told_by_the_listings_hash(
    cli: Any, write: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("prompts/greet.yaml", "variables: {name: string}\ntemplate: Hello {{name}}\n")
    write("prompts/bye.yaml", "template: Bye {{who}}\n")
    assert cli("push").exit_code == 0
    reads: list[str] = []
    real_get = Vault.get

    def counting_get(self: Vault, ref: str, **options: Any) -> Any:
        reads.append(ref)
        return real_get(self, ref, **options)

    monkeypatch.setattr(Vault, "get", counting_get)
    again = cli("push")
    assert again.stdout.endswith("0 created, 2 unchanged\n")
    assert reads == []  # no version read, no write transaction
    with Vault(Settings()) as vault:
        summaries = {p.name: p for p in vault.list_prompts()}
        assert summaries["greet"].latest_hash == real_get(vault, "greet@latest").hash

    write("prompts/bye.yaml", "template: Bye now {{who}}\n")
    third = cli("push")
    assert third.stdout.endswith("1 created, 1 unchanged\n")
