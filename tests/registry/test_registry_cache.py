"""Resolution caching: no database round trip on the warm path, TTL on label pointers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from promptvault import Vault
from promptvault.config import Settings

from .conftest import FakeClock


@contextmanager
def count_queries(vault: Vault) -> Iterator[list[str]]:
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(vault.db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(vault.db.engine, "before_cursor_execute", listener)


@contextmanager
def reader_and_writer(url: str, clock: FakeClock, **settings: Any) -> Iterator[tuple[Vault, Vault]]:
    """Two Vaults on one database, as two processes: a reader on ``clock``, and a writer."""
    config = Settings(database_url=url, **settings)
    reader = Vault(config, clock=clock)
    writer = Vault(config)
    try:
        yield reader, writer
    finally:
        reader.close()
        writer.close()


def count_picks(vault: Vault, monkeypatch: Any) -> list[Any]:
    """The references the resolver picks from here on (a memo hit picks none)."""
    resolver = vault.registry.resolver
    picks: list[Any] = []
    real_pick = resolver.pick
    monkeypatch.setattr(
        resolver, "pick", lambda ref, **kw: picks.append(ref) or real_pick(ref, **kw)
    )
    return picks


def test_warm_resolve_and_render_do_not_query(vault: Vault) -> None:
    vault.push("p", template="Hi {{name}}")
    vault.push("p", template="Hello {{name}}", labels=["staging"])
    vault.render("p", {"name": "a"})
    vault.get("p@staging")
    vault.get("p@1")
    with count_queries(vault) as seen:
        for _ in range(50):
            assert vault.render("p", {"name": "a"}) == "Hi a"
            assert vault.get("p@staging").version == 2
            assert vault.get("p@1").labels == ("production",)
            assert vault.render("p@2", {"name": "b"}) == "Hello b"
    assert seen == []


def test_label_pointers_expire_after_ttl(database_url: str, clock: FakeClock) -> None:
    with reader_and_writer(database_url, clock, label_ttl=2.0) as (reader, writer):
        writer.push("p", template="one")
        writer.push("p", template="two")
        assert reader.render("p") == "one"
        writer.set_label("p", "production", 2)
        clock.advance(1.0)
        assert reader.render("p") == "one"  # still within the TTL: cached pointer
        assert reader.get("p").version == 1
        clock.advance(1.5)
        assert reader.render("p") == "two"  # TTL passed: re-read
        assert reader.get("p").labels == ("production",)
        # A write through the same Vault is visible at once, whatever the clock says.
        reader.set_label("p", "production", 1)
        assert reader.render("p") == "one"
        assert reader.get("p").version == 1


def test_new_version_from_elsewhere_found_by_number(sqlite_url: str, clock: FakeClock) -> None:
    with reader_and_writer(sqlite_url, clock) as (reader, writer):
        writer.push("p", template="one")
        assert reader.get("p@latest").version == 1
        writer.push("p", template="two")
        # @2 is beyond the cached latest: the resolver looks again instead of failing.
        assert reader.get("p@2").template == "two"


def test_warm_get_uses_the_memo_and_still_sees_label_moves(
    database_url: str, clock: FakeClock, monkeypatch: Any
) -> None:
    with reader_and_writer(database_url, clock, label_ttl=2.0) as (reader, writer):
        writer.push("p", template="one")
        writer.push("p", template="two", labels=["staging"])
        resolver = reader.registry.resolver
        assert resolver.get("p").version == 1
        assert resolver.get("p@2").labels == ("staging",)
        reader.build("p", {})
        picks = count_picks(reader, monkeypatch)
        for _ in range(20):  # warm: neither parsed nor picked again
            assert reader.build("p", {}).messages[-1]["content"] == "one"
            assert resolver.get("p@2").labels == ("staging",)
        assert picks == []
        writer.set_label("p", "production", 2)  # another process: seen after the TTL
        clock.advance(1.0)
        assert resolver.get("p").version == 1
        clock.advance(1.5)
        assert resolver.get("p").version == 2
        assert resolver.get("p@2").labels == ("production", "staging")
        reader.set_label("p", "staging", 1)  # this process: seen at once
        assert resolver.get("p@staging").version == 1
        assert resolver.get("p@2").labels == ("production",)


def test_label_or_version_given_apart_use_the_memo_and_see_label_moves(
    database_url: str, clock: FakeClock, monkeypatch: Any
) -> None:
    """``get("p", label="staging")`` is what the server's resolve does for ``?label=``."""
    with reader_and_writer(database_url, clock, label_ttl=2.0) as (reader, writer):
        writer.push("p", template="one")
        writer.push("p", template="two", labels=["staging"])
        resolver = reader.registry.resolver
        assert resolver.get("p", label="staging").version == 2
        assert resolver.get("p", version=1).labels == ("production",)
        picks = count_picks(reader, monkeypatch)
        for _ in range(20):  # warm: neither parsed nor picked again
            assert resolver.get("p", label="staging").version == 2
            assert resolver.get("p", version=1).labels == ("production",)
        assert picks == []
        # The memo keeps label and version apart from the plain reference.
        assert resolver.get("p").version == 1
        writer.set_label("p", "staging", 1)  # another process: seen after the TTL
        clock.advance(1.0)
        assert resolver.get("p", label="staging").version == 2
        clock.advance(1.5)
        assert resolver.get("p", label="staging").version == 1
        assert resolver.get("p", version=1).labels == ("production", "staging")
        reader.set_label("p", "staging", 2)  # this process: seen at once
        assert resolver.get("p", label="staging").version == 2
        assert resolver.get("p", version=1).labels == ("production",)
