"""The outbox: every change appends exactly one event in its own transaction, in order."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from promptvault import Vault
from promptvault.config import Settings
from promptvault.entities import ChangeEvent
from promptvault.errors import ExperimentStateError, InvalidInputError, TemplateSyntaxError
from promptvault.storage.audit import append


@pytest.fixture
def vault(database_url: str) -> Any:
    v = Vault(Settings(database_url=database_url))
    yield v
    v.close()


def _new(vault: Vault, after: int) -> list[ChangeEvent]:
    return vault.events.changes(after=after, limit=1000)


def _only(vault: Vault, after: int) -> ChangeEvent:
    events = _new(vault, after)
    assert len(events) == 1, [e.type for e in events]
    return events[0]


def test_prompt_changes_write_one_event_each(vault: Vault) -> None:
    pushed = vault.push("team/support", template="Hello {{name}}", author="alice", message="m1")
    first = _new(vault, 0)
    # A new prompt's first version also takes production: one event per change.
    assert [e.type for e in first] == ["version.pushed", "label.moved"]
    assert first[0].payload == {
        "prompt": "team/support",
        "version": 1,
        "hash": pushed.version.hash,
        "message": "m1",
    }
    assert first[0].actor == "alice" and first[0].prompt == "team/support"
    assert first[1].payload == {
        "prompt": "team/support",
        "label": "production",
        "old_version": None,
        "new_version": 1,
    }
    last = first[-1].id
    vault.push("team/support", template="Hi {{name}}", author="alice")
    last = _only(vault, last).id

    vault.set_label("team/support", "production", 2, actor="bob")
    moved = _only(vault, last)
    assert (moved.type, moved.actor) == ("label.moved", "bob")
    assert moved.payload == {
        "prompt": "team/support",
        "label": "production",
        "old_version": 1,
        "new_version": 2,
    }
    vault.set_label("team/support", "production", 2, actor="bob")  # no move: no event
    assert _new(vault, moved.id) == []

    vault.rollback("team/support", actor="carol")
    back = _only(vault, moved.id)
    assert back.type == "label.moved" and back.payload["rollback"] is True
    assert (back.payload["old_version"], back.payload["new_version"]) == (2, 1)

    vault.set_label("team/support", "staging", 2, actor="bob")
    staged = _only(vault, back.id)
    vault.delete_label("team/support", "staging", actor="bob")
    removed = _only(vault, staged.id)
    assert removed.type == "label.removed"
    assert removed.payload == {"prompt": "team/support", "label": "staging", "old_version": 2}

    vault.archive("team/support", actor="dave")
    archived = _only(vault, removed.id)
    assert (archived.type, archived.payload) == ("prompt.archived", {"prompt": "team/support"})
    vault.unarchive("team/support", actor="dave")
    assert _only(vault, archived.id).type == "prompt.unarchived"
    assert vault.events.last_id() == _new(vault, 0)[-1].id


def test_experiment_changes_name_their_prompt(vault: Vault) -> None:
    vault.push("support", template="Hello {{name}}", author="setup")
    vault.push("support", template="Hi {{name}}", author="setup")
    mark = vault.events.last_id()
    variants = [
        {"name": "control", "version": 1, "weight": 50},
        {"name": "friendly", "version": 2, "weight": 50},
    ]
    metric = {"name": "resolved", "kind": "binary"}
    vault.experiments.create("tone", prompt="support", variants=variants, primary_metric=metric)
    assert _new(vault, mark) == []  # a draft serves nothing yet
    vault.experiments.start("tone", actor="alice")
    started = _only(vault, mark)
    assert started.type == "experiment.started" and started.prompt == "support"
    assert started.payload == {
        "experiment": "tone",
        "prompt": "support",
        "label": "production",
        "version": 1,
    }
    vault.experiments.ramp("tone", {"control": 20, "friendly": 80}, actor="alice")
    ramped = _only(vault, started.id)
    assert ramped.payload["weights"] == {"control": 20.0, "friendly": 80.0}
    vault.experiments.stop("tone", actor="alice", reason="checking")
    stopped = _only(vault, ramped.id)
    assert (stopped.type, stopped.payload["reason"]) == ("experiment.stopped", "checking")
    vault.experiments.conclude("tone", "friendly", actor="alice")
    moved, concluded = _new(vault, stopped.id)
    assert (moved.type, moved.payload["new_version"]) == ("label.moved", 2)
    assert moved.payload["cause"]["experiment"] == "tone"
    assert concluded.type == "experiment.concluded"
    assert (concluded.payload["winner"], concluded.payload["version"]) == ("friendly", 2)


def test_automatic_stop_is_an_event(vault: Vault) -> None:
    vault.push("support", template="Hello {{name}}", author="setup")
    vault.push("support", template="Hi {{name}}", author="setup")
    vault.experiments.check_every = 10**9
    exp = vault.experiments.create(
        "tone",
        prompt="support",
        variants=[
            {"name": "control", "version": 1, "weight": 50},
            {"name": "friendly", "version": 2, "weight": 50},
        ],
        primary_metric={"name": "resolved", "kind": "binary"},
        start=True,
    )
    assigned = {f"u{i}": exp.assigner().variant(f"u{i}") for i in range(1400)}
    vault.experiments.ingest(
        [
            {"type": "exposure", "experiment": "tone", "unit_id": unit, "variant": variant}
            for i, (unit, variant) in enumerate(assigned.items())
            if variant == "control" or i % 5 < 2
        ]
    )
    mark = vault.events.last_id()
    assert vault.experiments.check("tone").stopped
    stopped = _only(vault, mark)
    assert stopped.type == "experiment.auto_stopped" and stopped.prompt == "support"
    assert stopped.payload["reason"].startswith("sample ratio mismatch")


def test_collection_and_import_changes(vault: Vault, tmp_path: Path) -> None:
    vault.examples.create("faq", embedder="hashing", actor="alice")
    created = _only(vault, 0)
    assert created.payload == {"collection": "faq", "action": "collection.create"}
    vault.examples.add("faq", "How do I reset?", "Use the link.", actor="alice")
    added = _only(vault, created.id)
    assert (added.type, added.payload["action"]) == ("collection.changed", "example.add")

    vault.push("greeting", template="Hello", author="alice")
    vault.export(tmp_path / "export.json")
    with Vault(Settings(database_url=f"sqlite:///{tmp_path / 'other.db'}")) as other:
        other.import_(tmp_path / "export.json", actor="ops")
        imported = _only(other, 0)
        assert (imported.type, imported.payload) == (
            "registry.imported",
            {"prompts": ["greeting"]},
        )


def test_a_failed_write_leaves_no_event(vault: Vault) -> None:
    vault.push("support", template="Hello {{name}}", author="setup")
    vault.push("support", template="Hi {{name}}", author="setup")
    mark = vault.events.last_id()
    with pytest.raises(TemplateSyntaxError):
        vault.push("support", template="Hello {{#open}}", author="setup")
    assert _new(vault, mark) == []

    def failing(session: Any) -> None:
        append(session, actor="ops", action="label.set", target="prompt:support", details={})
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        vault.db.write(failing)
    assert _new(vault, mark) == []

    # Refused half-way: the version row, its audit entry and its event are already written
    # in the transaction when the label check refuses the move; all of it rolls back.
    vault.experiments.create(
        "tone",
        prompt="support",
        variants=[
            {"name": "control", "version": 1, "weight": 50},
            {"name": "friendly", "version": 2, "weight": 50},
        ],
        primary_metric={"name": "resolved", "kind": "binary"},
        start=True,
    )
    mark = vault.events.last_id()
    with pytest.raises(ExperimentStateError):
        vault.push("support", template="Third {{name}}", author="x", labels=["production"])
    assert _new(vault, mark) == []
    assert max(v.version for v in vault.versions("support")) == 2


def test_ids_follow_commit_order_under_concurrent_writers(vault: Vault) -> None:
    def pusher(n: int) -> None:
        for i in range(5):
            vault.push(f"p{n}", template=f"v{i}", author=f"w{n}")

    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = _new(vault, 0)
    pushed = [e for e in events if e.type == "version.pushed"]
    assert len(pushed) == 20
    ids = [e.id for e in events]
    assert ids == sorted(set(ids))
    # The outbox orders changes as the audit chain does (both appended under one lock).
    audited = [
        (e.target.removeprefix("prompt:"), e.details["version"])
        for e in vault.audit.entries(action="prompt.push")
    ]
    assert [(e.prompt, e.payload["version"]) for e in pushed] == audited
    for name in ("p0", "p1", "p2", "p3"):
        versions = [e.payload["version"] for e in pushed if e.prompt == name]
        assert versions == [1, 2, 3, 4, 5]


def test_reader_pages_filters_and_checks_input(vault: Vault) -> None:
    for name in ("team/a", "team/b", "other"):
        vault.push(name, template="x", author="alice")
    every = _new(vault, 0)
    assert len(every) == 6
    page = vault.events.changes(after=every[1].id, limit=2)
    assert [e.id for e in page] == [every[2].id, every[3].id]
    team = vault.events.changes(prefix="team/")
    assert {e.prompt for e in team} == {"team/a", "team/b"} and len(team) == 4
    assert vault.events.changes(prefix="team%") == []  # a prefix, not a pattern
    # The cursor moves past what the filter left out, and stops at a full page.
    filtered = vault.events.page(prefix="other")
    assert [e.prompt for e in filtered.items] == ["other", "other"]
    assert filtered.cursor == filtered.last_id == every[-1].id
    empty = vault.events.page(after=every[-1].id, prefix="nothing")
    assert (empty.items, empty.cursor) == ([], every[-1].id)
    full = vault.events.page(limit=3, prefix="team/")
    assert full.cursor == full.items[-1].id < full.last_id
    for bad in ({"after": -1}, {"limit": 0}, {"limit": 1001}, {"after": True}):
        with pytest.raises(InvalidInputError) as caught:
            vault.events.changes(**bad)
        assert caught.value.details["field"] in bad


def test_commits_that_appended_events_are_told_to_listeners(vault: Vault) -> None:
    """``on_events_committed`` fires once per committed write that appended events, after
    the commit (the event is readable), and never for one rolled back or without events."""
    heard: list[int] = []
    stop = vault.db.on_events_committed(lambda: heard.append(vault.events.last_id()))
    vault.push("team/listened", template="v1", author="alice")  # two events, one commit
    assert heard == [vault.events.last_id()]
    vault.webhooks.create("http://93.184.216.34/hook", actor="admin")  # audited, no event
    assert len(heard) == 1

    def appends_then_fails(work: Any) -> None:
        work.audit(actor="a", action="prompt.update", target="prompt:team/listened")
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        vault.db.write_work(appends_then_fails)
    assert len(heard) == 1 and heard[0] == vault.events.last_id()
    stop()
    vault.set_label("team/listened", "staging", 1, actor="bob")
    assert len(heard) == 1


def test_a_failing_listener_neither_fails_the_write_nor_silences_the_others(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[str] = []

    def broken() -> None:
        raise RuntimeError("listener bug")

    stops = [
        vault.db.on_events_committed(broken),
        vault.db.on_events_committed(lambda: heard.append("after")),
    ]
    with caplog.at_level("WARNING", logger="promptvault.storage.database"):
        pushed = vault.push("team/heard", template="v1", author="alice")
    assert pushed.created and vault.get("team/heard").version == 1  # committed all the same
    assert heard == ["after"]
    assert any("listener failed" in r.getMessage() for r in caplog.records)
    for stop in stops:
        stop()
