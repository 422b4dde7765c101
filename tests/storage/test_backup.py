"""``backup`` / ``restore``: online, consistent, complete, and checked on the way back."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from promptvault import Vault
from promptvault.config import Settings
from promptvault.errors import ConflictError, InvalidInputError
from promptvault.registry.keys import KeyService
from promptvault.storage.tables import Base

EVERY_TABLE = {
    "prompts",
    "prompt_versions",
    "labels",
    "label_events",
    "tags",
    "audit_log",
    "audit_checkpoints",
    "change_events",
    "api_keys",
    "experiments",
    "experiment_variants",
    "experiment_units",
    "experiment_exposures",
    "experiment_outcomes",
    "experiment_stats",
    "experiment_event_batches",
    "experiment_rejections",
    "collections",
    "examples",
}


def _populate(vault: Vault) -> None:
    vault.push("support", template="Hello {{name}}", author="alice", tags=["demo"])
    vault.push("support", template="Hi {{name}}", author="bob", labels=["staging"])
    vault.set_label("support", "production", 2, actor="carol")
    vault.rollback("support", actor="carol")
    vault.push("old", template="x")
    vault.archive("old", actor="alice")
    keys = KeyService(vault.db)
    keys.create("ci", "editor", actor="alice")
    keys.create("gone", "viewer", actor="alice")
    keys.revoke("gone", actor="alice")
    keys.rotate("ci", actor="alice", grace=3600)
    vault.experiments.create(
        "tone",
        prompt="support",
        variants=[
            {"name": "control", "version": 1, "weight": 50},
            {"name": "friendly", "version": 2, "weight": 50},
        ],
        primary_metric={"name": "resolved", "kind": "binary"},
        actor="alice",
    )
    vault.experiments.start("tone", actor="alice")
    vault.experiments.ingest(
        [
            {"type": "exposure", "experiment": "tone", "unit_id": "u1"},
            {
                "type": "outcome",
                "experiment": "tone",
                "unit_id": "u1",
                "metric": "resolved",
                "value": 1,
            },
            {
                "type": "outcome",
                "experiment": "tone",
                "unit_id": "ghost",
                "metric": "resolved",
                "value": 1,
            },
        ],
        key="batch-1",
    )
    vault.examples.create("faq", embedder="hashing", actor="alice")
    vault.examples.add("faq", "How do I reset?", "Use the link.", category="account", actor="alice")
    vault.examples.add("faq", "Refund?", "Within 30 days.", metadata={"lang": "en"}, actor="alice")


def _dump(vault: Vault) -> dict[str, list[dict[str, Any]]]:
    out = {}
    with vault.db.read() as s:
        for table in Base.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            out[table.name] = [
                dict(r) for r in s.execute(select(table).order_by(*order)).mappings()
            ]
    return out


def _same_except_restore_entry(before: dict[str, Any], after: dict[str, Any]) -> None:
    for name, rows in before.items():
        if name == "audit_log":
            assert after[name][:-1] == rows
            assert after[name][-1]["action"] == "backup.restore"
        elif name == "audit_checkpoints":
            assert [r for r in after[name] if r["kind"] != "head"] == [
                r for r in rows if r["kind"] != "head"
            ]
        else:
            assert after[name] == rows, name


@pytest.fixture
def populated(database_url: str) -> Any:
    vault = Vault(Settings(database_url=database_url))
    _populate(vault)
    yield vault
    vault.close()


def test_backup_holds_everything_and_restores_it(populated: Vault, tmp_path: Path) -> None:
    before = _dump(populated)
    assert {name for name, rows in before.items() if rows} >= EVERY_TABLE
    result = populated.backup(tmp_path / "backup.file")
    assert (tmp_path / "backup.file").stat().st_mode & 0o777 == 0o600
    assert result.rows["prompts"] == 2 and result.audit_entries == len(before["audit_log"])
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    restored = Vault.restore(tmp_path / "backup.file", url=target, actor="ops")
    assert restored.audit.ok and restored.rows["api_keys"] == 3
    with Vault.open(target) as vault:
        _same_except_restore_entry(before, _dump(vault))
        assert vault.audit.verify().ok
        assert vault.render("support", {"name": "Ada"}) == "Hello Ada"
        assert vault.experiments.get("tone").status == "running"
        assert [e.input for e in vault.examples.examples("faq")] == ["How do I reset?", "Refund?"]
        # Keys still authenticate against their stored digests; new rows get fresh ids.
        vault.push("after", template="y")
        assert vault.audit.verify().ok


def test_sqlite_backup_restores_into_postgres(
    sqlite_url: str, empty_postgres_url: str, tmp_path: Path
) -> None:
    source = Vault(Settings(database_url=sqlite_url))
    try:
        _populate(source)
        before = _dump(source)
        source.backup(tmp_path / "b.db")
    finally:
        source.close()
    Vault.restore(tmp_path / "b.db", url=empty_postgres_url)
    with Vault.open(empty_postgres_url) as vault:
        _same_except_restore_entry(before, _dump(vault))
        vault.push("support", template="v3")  # sequences moved past the restored ids
        vault.examples.add("faq", "new", "row")
        assert vault.audit.verify().ok


def test_online_backup_while_another_writer_pushes(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url)
    vault = Vault(settings)
    vault.push("seed", template="s")
    acknowledged: list[tuple[str, int]] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        other = Vault(settings)  # its own engine, as another server would have
        try:
            i = 0
            while not stop.is_set():
                name = f"p{i % 4}"
                result = other.push(name, template=f"t{i}", author="w")
                acknowledged.append((name, result.version.version))
                i += 1
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            other.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while len(acknowledged) < 20:
            assert time.monotonic() < deadline and not errors, errors
            time.sleep(0.01)
        before_backup = list(acknowledged)
        vault.backup(tmp_path / "online.bak")
        seen = len(acknowledged)
        while len(acknowledged) < seen + 5:  # the writer carried on after the backup
            assert time.monotonic() < deadline and not errors, errors
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join()
        vault.close()
    assert not errors
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    Vault.restore(tmp_path / "online.bak", url=target)
    with Vault.open(target) as restored:
        for name, version in before_backup:
            assert restored.get(f"{name}@{version}").version == version
        for name in {n for n, _ in before_backup}:
            numbers = [v.version for v in restored.versions(name, limit=None)]
            assert numbers == list(range(len(numbers), 0, -1))  # contiguous
        assert restored.audit.verify().ok


def test_restore_refuses_a_database_in_use_unless_forced(populated: Vault, tmp_path: Path) -> None:
    populated.backup(tmp_path / "b")
    target = f"sqlite:///{tmp_path / 'busy.db'}"
    with Vault.open(target) as busy:
        busy.push("mine", template="m")
    with pytest.raises(ConflictError, match=r"not empty .* --force") as info:
        Vault.restore(tmp_path / "b", url=target)
    assert info.value.details["tables"]["prompts"] == 1
    with Vault.open(target) as busy:
        assert [p.name for p in busy.list_prompts()] == ["mine"]  # untouched
    result = Vault.restore(tmp_path / "b", url=target, force=True)
    assert result.audit.ok
    with Vault.open(target) as vault:
        assert [p.name for p in vault.list_prompts()] == ["support"]
        assert vault.audit.entries()[-1].details["replaced"]["prompts"] == 1
        assert vault.audit.verify().ok


def test_restore_refuses_a_tampered_backup(sqlite_url: str, tmp_path: Path) -> None:
    vault = Vault(Settings(database_url=sqlite_url))
    try:
        _populate(vault)
        vault.backup(tmp_path / "b.db")
    finally:
        vault.close()
    with sqlite3.connect(tmp_path / "b.db") as conn:
        conn.execute("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    with pytest.raises(InvalidInputError, match="does not verify, nothing was restored"):
        Vault.restore(tmp_path / "b.db", url=target)
    with Vault.open(target) as empty:
        assert empty.list_prompts() == [] and empty.audit.entries() == []


def test_restore_needs_the_audit_key_of_the_backup(sqlite_url: str, tmp_path: Path) -> None:
    vault = Vault(Settings(database_url=sqlite_url, audit_key="production key"))
    try:
        vault.push("p", template="x")
        vault.backup(tmp_path / "b.db")
    finally:
        vault.close()
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    with pytest.raises(InvalidInputError, match=r"another key.*--resign-audit"):
        Vault.restore(tmp_path / "b.db", settings=Settings(database_url=target, audit_key="other"))
    Vault.restore(
        tmp_path / "b.db", settings=Settings(database_url=target, audit_key="production key")
    )
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    other_key = Settings(database_url=elsewhere, audit_key="other")
    result = Vault.restore(tmp_path / "b.db", settings=other_key, resign=True, actor="ops")
    assert result.audit.ok
    with Vault(other_key) as vault:
        entry = vault.audit.entries()[-1]
        assert (entry.action, len(entry.details["resigned_from_keys"])) == ("backup.restore", 1)
        assert vault.audit.verify().ok
    # Re-signing vouches for the key only: a damaged chain is still refused.
    with sqlite3.connect(tmp_path / "b.db") as conn:
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    fresh = Settings(database_url=f"sqlite:///{tmp_path / 'third.db'}", audit_key="other")
    with pytest.raises(InvalidInputError, match="altered"):
        Vault.restore(tmp_path / "b.db", settings=fresh, resign=True)


def test_not_a_backup(tmp_path: Path, sqlite_url: str) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    with pytest.raises(InvalidInputError, match="line 1: not JSON"):
        Vault.restore(junk, url=sqlite_url)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(InvalidInputError, match="not a promptvault database"):
        Vault.restore(other, url=sqlite_url)


def test_postgres_export_is_checked_line_by_line(postgres_url: str, tmp_path: Path) -> None:
    vault = Vault(Settings(database_url=postgres_url))
    try:
        _populate(vault)
        plain = vault.backup(tmp_path / "pg.jsonl")
        packed = vault.backup(tmp_path / "pg.jsonl.gz")
    finally:
        vault.close()
    assert plain.kind == packed.kind == "jsonl" and plain.rows == packed.rows
    assert (tmp_path / "pg.jsonl.gz").read_bytes()[:2] == b"\x1f\x8b"
    Vault.restore(tmp_path / "pg.jsonl.gz", url=f"sqlite:///{tmp_path / 'a.db'}")
    lines = (tmp_path / "pg.jsonl").read_text().splitlines()
    (tmp_path / "cut.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(InvalidInputError, match="incomplete"):
        Vault.restore(tmp_path / "cut.jsonl", url=f"sqlite:///{tmp_path / 'b.db'}")
    dropped = [line for line in lines if '"t": "prompt_versions"' not in line or "Hi " not in line]
    (tmp_path / "dropped.jsonl").write_text("\n".join(dropped) + "\n")
    with pytest.raises(InvalidInputError, match=r"labels: .* damaged or inconsistent"):
        Vault.restore(tmp_path / "dropped.jsonl", url=f"sqlite:///{tmp_path / 'c.db'}")
    no_tag = [line for line in lines if '"t": "tags"' not in line]
    (tmp_path / "no_tag.jsonl").write_text("\n".join(no_tag) + "\n")
    with pytest.raises(InvalidInputError, match="table tags: the backup says 1 rows, 0 were read"):
        Vault.restore(tmp_path / "no_tag.jsonl", url=f"sqlite:///{tmp_path / 'd.db'}")
