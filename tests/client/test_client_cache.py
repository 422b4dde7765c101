"""SDK cache: typed keys, TTL with a hand-moved clock, stale-while-revalidate, eviction."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from promptvault.client import CacheKey, PromptVaultClient, parse_ref
from promptvault.errors import InvalidInputError, PromptNotFound

from .fakes import BASE, FakeClock, FakeServer


def make(server: FakeServer, clock: FakeClock, **options: object) -> PromptVaultClient:
    return PromptVaultClient(
        BASE,
        "pv_test",
        transport=server.transport(),
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


def test_references_parse_to_typed_keys() -> None:
    assert parse_ref(BASE, "support") == CacheKey(BASE, "support", "production", None)
    assert parse_ref(BASE, "team/support@staging") == CacheKey(
        BASE, "team/support", "staging", None
    )
    assert parse_ref(BASE, "support@7") == CacheKey(BASE, "support", None, 7)
    # Same name on another server is another key: nothing is shared by string prefix.
    assert parse_ref("http://other", "support") != parse_ref(BASE, "support")
    for bad in ("", "@x", "support@", "support@0", "support@Prod"):
        with pytest.raises(InvalidInputError):
            parse_ref(BASE, bad)


def test_label_pointer_cached_for_ttl_then_stale_while_refreshing(
    server: FakeServer, clock: FakeClock
) -> None:
    server.add("support", "v1 {{x}}")
    pv = make(server, clock, cache_ttl=60)
    assert pv.get("support").version == 1
    assert pv.get("support@production").version == 1  # same typed key, no new request
    assert server.resolves() == 1

    server.add("support", "v2 {{x}}")
    server.move("support", "production", 2)
    clock.advance(59)
    assert pv.get("support").version == 1  # still fresh
    assert server.resolves() == 1

    clock.advance(2)  # expired: the stale value comes back at once, a refresh runs behind
    assert pv.get("support").version == 1
    pv.wait_idle(5)
    assert server.resolves() == 2
    assert pv.get("support").version == 2
    assert server.resolves() == 2


def test_refresh_sends_if_none_match_and_304_keeps_value(
    server: FakeServer, clock: FakeClock
) -> None:
    server.add("support", "only")
    pv = make(server, clock, cache_ttl=10)
    first = pv.get("support")
    clock.advance(11)
    pv.get("support")
    pv.wait_idle(5)
    refresh = server.requests[-1]
    assert refresh.headers["if-none-match"] == f'"{first.hash}"'
    assert pv.get("support") is first  # 304: same object, freshness renewed
    clock.advance(5)
    pv.get("support")
    assert server.resolves() == 2


def test_one_refresh_per_key_at_a_time(server: FakeServer, clock: FakeClock) -> None:
    server.add("support", "x")
    pv = make(server, clock, cache_ttl=1)
    pv.get("support")
    clock.advance(2)
    server.gate = threading.Event()  # the refresh blocks inside the "server"
    for _ in range(50):
        assert pv.get("support").version == 1
    server.gate.set()
    pv.wait_idle(5)
    assert server.resolves() == 2  # the first fetch and exactly one refresh


def test_pinned_versions_are_revalidated_once_per_ttl(server: FakeServer, clock: FakeClock) -> None:
    # Immutable, but its prompt may be archived: one conditional request (a 304) per TTL.
    server.add("support", "a")
    pv = make(server, clock, cache_ttl=1)
    assert pv.get("support@1").version == 1
    for _ in range(20):
        assert pv.get("support@1").version == 1
    assert server.resolves() == 1
    clock.advance(10_000)
    first = pv.get("support@1")
    pv.wait_idle(5)
    assert server.resolves() == 2
    assert pv.get("support@1") is first  # a 304: the same entry, kept another TTL
    pv.wait_idle(5)
    assert server.resolves() == 2


def test_404_on_refresh_evicts_memory_and_disk(
    server: FakeServer, clock: FakeClock, tmp_path: Path
) -> None:
    server.add("support", "x")
    server.labels["support"]["staging"] = 1
    pv = make(server, clock, cache_ttl=5, fallback_dir=str(tmp_path))
    assert pv.get("support@staging").version == 1
    key = parse_ref(BASE, "support@staging")
    assert pv._core.disk is not None
    assert pv._core.disk.path_for(key).exists()

    del server.labels["support"]["staging"]
    clock.advance(6)
    pv.get("support@staging")  # stale answer, refresh finds 404
    pv.wait_idle(5)
    assert not pv._core.disk.path_for(key).exists()
    from promptvault.errors import LabelNotFound

    with pytest.raises(LabelNotFound):
        pv.get("support@staging")


def test_cache_ttl_zero_disables_caching(server: FakeServer, clock: FakeClock) -> None:
    server.add("support", "x")
    pv = make(server, clock, cache_ttl=0)
    for _ in range(3):
        pv.get("support")
        pv.get("support@1")
    assert server.resolves() == 6


def test_unknown_prompt_raises_rebuilt_error(server: FakeServer, clock: FakeClock) -> None:
    pv = make(server, clock)
    with pytest.raises(PromptNotFound) as info:
        pv.get("missing", fallback="unused")  # a definite 404 is an answer, not an outage
    assert info.value.details["name"] == "missing"


def test_partials_resolve_through_the_client_cache(server: FakeServer, clock: FakeClock) -> None:
    server.add("common/safety", "Be safe.")
    server.add("support", "Hi {{name}}. {{> common/safety}}")
    pv = make(server, clock, cache_ttl=10)
    assert pv.render("support", {"name": "Ada"}) == "Hi Ada. Be safe."
    count = server.resolves()
    assert pv.render("support", {"name": "Bo"}) == "Hi Bo. Be safe."
    assert server.resolves() == count  # the partial is cached like any prompt

    server.add("common/safety", "Be kind.")
    server.move("common/safety", "production", 2)
    clock.advance(11)
    pv.render("support", {"name": "Ada"})
    pv.wait_idle(5)
    assert pv.render("support", {"name": "Ada"}) == "Hi Ada. Be kind."


def test_async_client_fetches_partials_it_has_not_seen(
    server: FakeServer, clock: FakeClock
) -> None:
    import asyncio

    from promptvault.client import AsyncPromptVaultClient

    server.add("common/safety", "Be safe.")
    server.add("support", "Hi {{name}}. {{> common/safety}}")

    async def scenario() -> list[str]:
        async with AsyncPromptVaultClient(BASE, transport=server.transport(), clock=clock) as pv:
            return [await pv.render("support", {"name": n}) for n in ("Ada", "Bo")]

    assert asyncio.run(scenario()) == ["Hi Ada. Be safe.", "Hi Bo. Be safe."]
