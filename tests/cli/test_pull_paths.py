"""``pull`` and ``init`` never write outside their folder, whatever the database holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text

from promptvault import Vault
from promptvault.config import Settings


def _vault(url: str) -> Vault:
    return Vault(Settings(database_url=url))


def test_pull_reports_a_stored_traversal_name_and_writes_nothing_from_it(
    cli: Any, tmp_path: Path, database_url: str
) -> None:
    vault = _vault(database_url)
    vault.push("good", template="fine")
    vault.push("x/aa/bb/cc/escaped", template="owned")
    # A database written around validation (older release, raw SQL) may hold any name.
    with vault.db.engine.begin() as conn:
        conn.execute(
            text("UPDATE prompts SET name = :bad WHERE name = :ok"),
            {"bad": "x/../../../escaped", "ok": "x/aa/bb/cc/escaped"},
        )
    vault.close()

    pulled = cli("--db", database_url, "pull")

    assert pulled.exit_code == 1
    assert not (tmp_path / "escaped.yaml").exists()
    assert not list(tmp_path.rglob("escaped.yaml"))
    assert "'x/../../../escaped': refused (not a valid prompt name" in pulled.stderr
    assert (tmp_path / "project" / "prompts" / "good.yaml").read_text().endswith("fine\n")
    listed = cli("--db", database_url, "pull", "--json")
    rows = {row["name"]: row["status"] for row in __import__("json").loads(listed.stdout)}
    assert rows == {"good": "unchanged", "x/../../../escaped": "refused"}


def test_pull_refuses_a_target_that_a_symlink_leads_outside(cli: Any, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    prompts = tmp_path / "project" / "prompts"
    prompts.mkdir(parents=True)
    (prompts / "link").symlink_to(outside, target_is_directory=True)
    with _vault(f"sqlite:///{tmp_path / 'v.db'}") as vault:
        vault.push("link/a", template="through the link")
        vault.push("plain", template="ok")

    pulled = cli("--db", f"sqlite:///{tmp_path / 'v.db'}", "pull")

    assert pulled.exit_code == 1
    assert list(outside.iterdir()) == []
    assert "link/a: refused (refusing to write prompts/link/a.yaml" in pulled.stderr
    assert (prompts / "plain.yaml").exists()


def test_init_refuses_a_prompts_folder_that_leads_outside(cli: Any, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "project" / "new").mkdir()
    (tmp_path / "project" / "new" / "prompts").symlink_to(outside, target_is_directory=True)

    done = cli("init", "new")

    assert done.exit_code == 1
    assert list(outside.iterdir()) == []
    assert "outside" in done.stderr


def test_push_sends_included_prompts_first(cli: Any, tmp_path: Path) -> None:
    prompts = tmp_path / "project" / "prompts"
    prompts.mkdir(parents=True)
    # "a" sorts first but includes "b": pushing in path order would name a missing prompt.
    (prompts / "a.yaml").write_text("template: 'A {{> b}}'\n")
    (prompts / "b.yaml").write_text("template: 'B'\n")
    pushed = cli("push")
    assert pushed.exit_code == 0, pushed.stderr
    assert cli("render", "a").stdout == "A B\n"
