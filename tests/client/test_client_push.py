"""SDK push: the change stream keeps both clients' caches right, across restarts."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from tests.server.live import free_port

from promptvault import Vault
from promptvault.client import AsyncPromptVaultClient, PromptVaultClient
from promptvault.config import Settings
from promptvault.errors import LabelNotFound, PromptNotFound
from promptvault.server.app import create_app
from waiting import async_wait_until, wait_until

# Only the stream can refresh these caches within a test: their TTL is an hour.
TTL = 3600


@dataclass
class Live:
    vault: Vault
    key: str
    port: int
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        app = create_app(self.vault)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        server = self.server
        wait_until(lambda: server.started, what="uvicorn to start")
        self.app = app

    def stop(self) -> None:
        assert self.server is not None and self.thread is not None
        changes = getattr(self.app.state, "changes", None)
        if changes is not None:  # end the streams, as serve's shutdown does
            changes.loop.call_soon_threadsafe(changes.close)
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def live(sqlite_url: str) -> Iterator[Live]:
    vault = Vault(Settings(database_url=sqlite_url, stream_heartbeat=0.5))
    vault.push("support", template="one {{name}}", author="setup")
    vault.push("support", template="two {{name}}", author="setup", labels=["staging"])
    key = create_app(vault).state.keys.create("app", "runtime")[0]
    server = Live(vault, key, free_port())
    server.start()
    yield server
    server.stop()
    vault.close()


def test_a_move_reaches_a_warm_client_at_once(live: Live) -> None:
    with PromptVaultClient(live.base, live.key, cache_ttl=TTL) as pv:
        assert pv.get("support").version == 1
        assert pv.render("support", {"name": "Ada"}) == "one Ada"
        wait_until(lambda: pv.push_connected, what="the stream to open")
        live.vault.set_label("support", "production", 2, actor="alice")
        wait_until(lambda: pv.get("support").version == 2, what="the move to arrive")
        assert pv.render("support", {"name": "Ada"}) == "two Ada"
        assert pv.get("support").labels == ("production", "staging")


def test_a_removed_label_is_never_served_again(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    with PromptVaultClient(live.base, live.key, cache_ttl=TTL) as pv:
        assert pv.get("support@staging").version == 2
        wait_until(lambda: pv.push_connected, what="the stream to open")
        live.vault.delete_label("support", "staging", actor="alice")

        def gone() -> bool:
            try:
                pv.get("support@staging")
            except LabelNotFound:
                return True
            return False

        wait_until(gone, what="the removal to arrive")
        with caplog.at_level(logging.WARNING, logger="promptvault.client"):
            assert pv.get("support@staging", fallback="kept") == "kept"
            assert pv.render("support@staging", {"name": "Ada"}, fallback="hi {{name}}") == "hi Ada"
            assert pv.get("support@staging", fallback="kept") == "kept"
        warnings = [r for r in caplog.records if "removed" in r.getMessage()]
        assert len(warnings) == 1  # once per key, not per call
        live.stop()  # the server is gone: still no copy of the removed label
        with pytest.raises(LabelNotFound):
            pv.get("support@staging")
        live.start()


def test_an_archived_prompt_is_evicted(live: Live) -> None:
    with PromptVaultClient(live.base, live.key, cache_ttl=TTL) as pv:
        assert pv.get("support@1").version == 1  # pinned versions go too
        assert pv.get("support").version == 1
        wait_until(lambda: pv.push_connected, what="the stream to open")
        live.vault.archive("support", actor="alice")

        def archived() -> bool:
            try:
                pv.get("support@1")
            except PromptNotFound:
                return True
            return False

        wait_until(archived, what="the archive to arrive")
        with pytest.raises(PromptNotFound):
            pv.get("support")
        live.vault.unarchive("support", actor="alice")
        wait_until(lambda: "support" not in pv._core.archived, what="the unarchive")
        assert pv.get("support").version == 1


def test_a_restarted_server_replays_what_the_client_missed(live: Live) -> None:
    with PromptVaultClient(live.base, live.key, cache_ttl=TTL) as pv:
        assert pv.get("support").version == 1
        assert pv.get("support@staging").version == 2
        wait_until(lambda: pv.push_connected, what="the stream to open")
        live.vault.set_label("support", "canary", 1, actor="alice")  # one event seen live
        wait_until(lambda: pv._push is not None and pv._push.state.cursor, what="an event")
        live.stop()
        wait_until(lambda: not pv.push_connected, what="the stream to drop")
        # Changes while the client cannot hear them: it serves its cache (TTL) meanwhile.
        live.vault.set_label("support", "production", 2, actor="alice")
        live.vault.delete_label("support", "staging", actor="alice")
        assert pv.get("support").version == 1
        live.start()
        wait_until(lambda: pv.get("support").version == 2, what="the replayed move")
        with pytest.raises(LabelNotFound):
            pv.get("support@staging")


def test_the_async_client_follows_the_stream(live: Live) -> None:
    async def scenario() -> None:
        async with AsyncPromptVaultClient(live.base, live.key, cache_ttl=TTL) as pv:
            assert (await pv.get("support")).version == 1
            await async_wait_until(lambda: pv.push_connected, what="the stream to open")
            await asyncio.to_thread(live.vault.set_label, "support", "production", 2)
            versions: list[int] = []

            async def moved() -> None:
                while True:
                    version = (await pv.get("support")).version
                    if version == 2:
                        versions.append(version)
                        return
                    await asyncio.sleep(0.01)

            await asyncio.wait_for(moved(), 60)
            assert versions == [2]
            await asyncio.to_thread(live.vault.delete_label, "support", "staging")
            await pv.get("support@1")

            async def removed() -> bool:
                try:
                    await pv.get("support@staging")
                except LabelNotFound:
                    return True
                return False

            for _ in range(6000):
                if await removed():
                    break
                await asyncio.sleep(0.01)
            assert await removed()

    asyncio.run(scenario())


def test_push_is_off_with_a_custom_transport_or_no_cache(live: Live) -> None:
    import httpx

    with PromptVaultClient(live.base, live.key, transport=httpx.HTTPTransport()) as pv:
        pv.get("support")
        assert pv._push is None
    with PromptVaultClient(live.base, live.key, cache_ttl=0) as pv:
        pv.get("support")
        assert pv._push is None


def test_a_move_made_through_another_server_is_not_hidden_by_its_cache(
    live: Live, sqlite_url: str
) -> None:
    # The client follows server A; the move goes through another process sharing the
    # database. Server A caches label pointers for an hour here: its broadcaster must drop
    # them when it hears of the move, or the client's fetch would get the old version.
    other = Vault(Settings(database_url=sqlite_url, label_ttl=TTL))
    live.vault.registry.resolver.ttl = TTL
    try:
        with PromptVaultClient(live.base, live.key, cache_ttl=TTL) as pv:
            assert pv.get("support").version == 1
            wait_until(lambda: pv.push_connected, what="the stream to open")
            other.set_label("support", "production", 2, actor="elsewhere")
            wait_until(lambda: pv.get("support").version == 2, what="the move to arrive")
    finally:
        other.close()
