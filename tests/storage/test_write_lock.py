"""On PostgreSQL, counters and pushes to other prompts do not queue on the serial write lock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest

from promptvault import Vault
from promptvault.config import Settings
from promptvault.storage.database import PROMPT_LOCK_CLASS, WRITE_LOCK_KEY

DEADLINE = 60.0  # generous: the work itself takes milliseconds


@pytest.fixture
def vault(postgres_url: str) -> Iterator[Vault]:
    v = Vault(Settings(database_url=postgres_url))
    v.push("support", template="Q: {{question}}\n{{{examples}}}", author="setup")
    v.push("support", template="Q2: {{question}}\n{{{examples}}}", labels=["staging"])
    v.experiments.create(
        "tone",
        prompt="support",
        variants=[
            {"name": "control", "version": 1, "weight": 50},
            {"name": "friendly", "version": "staging", "weight": 50},
        ],
        primary_metric={"name": "resolved", "kind": "binary"},
        actor="alice",
    )
    v.experiments.start("tone", actor="alice")
    v.examples.create("faq", prompt="support", query_template="{{question}}", k=1)
    v.examples.add_many("faq", [{"input": "Where is my parcel?", "output": "Track it."}])
    yield v
    v.close()


def _holding(url: str, sql: str, params: tuple[object, ...]) -> psycopg.Connection[object]:
    """A second connection that holds an advisory lock until it is closed."""
    conn: psycopg.Connection[object] = psycopg.connect(
        url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True
    )
    conn.execute(sql, params)
    return conn


def _finishes(fn: Callable[[], object]) -> bool:
    """Whether ``fn`` returns (without raising) before the deadline."""
    done = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            fn()
            done.set()
        except BaseException as exc:  # reported by the assertion below
            failure.append(exc)

    threading.Thread(target=run, daemon=True).start()
    finished = done.wait(DEADLINE)
    assert not failure, failure
    return finished


def test_events_and_usage_counts_pass_a_held_write_lock(vault: Vault, postgres_url: str) -> None:
    holder = _holding(postgres_url, "SELECT pg_advisory_lock(%s)", (WRITE_LOCK_KEY,))
    try:
        events = [{"type": "exposure", "experiment": "tone", "unit_id": f"u{i}"} for i in range(20)]
        assert _finishes(lambda: vault.experiments.ingest(events))
        vault.examples.usage.every = 1  # every build writes its count at once
        assert _finishes(lambda: vault.build("support", {"question": "parcel"}, examples={}))
    finally:
        holder.close()
    assert sum(vault.experiments.report("tone").units.values()) == 20
    assert [e.usage_count for e in vault.examples.examples("faq")] == [1]
    assert vault.audit.verify().ok


def test_a_push_waits_only_for_writers_of_the_same_prompt(vault: Vault, postgres_url: str) -> None:
    holder = _holding(
        postgres_url, "SELECT pg_advisory_lock(%s, hashtext(%s))", (PROMPT_LOCK_CLASS, "support")
    )
    try:
        assert _finishes(lambda: vault.push("other", template="Hello {{name}}"))
        pushed: list[int] = []
        late = threading.Thread(
            target=lambda: pushed.append(vault.push("support", template="v3").version.version)
        )
        late.start()  # queues behind the holder of the prompt's lock
    finally:
        holder.close()
    late.join(DEADLINE)
    assert pushed == [3]
    assert [v.version for v in vault.versions("support")] == [3, 2, 1]
    assert vault.audit.verify().ok
