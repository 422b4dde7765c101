"""SDK push: the change stream keeps both clients' caches right, across restarts."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from tests.server.live import free_port

from promptvault import Vault
from promptvault.client import AsyncPromptVaultClient, PromptVaultClient
from promptvault.config import Settings
from promptvault.errors import LabelNotFound, PromptNotFound
from promptvault.server.app import create_app
from waiting import async_wait_until, wait_until

from .fakes import FakeClock

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
    with PromptVaultClient(live.base, live.key, cache_ttl=TTL, timeout=30) as pv:
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


def _gone_after_refresh(pv: PromptVaultClient, clock: FakeClock, ref: str, error: type) -> bool:
    """One TTL later (stale answer, background refresh), does ``ref`` raise ``error``?"""
    clock.advance(TTL + 1)
    try:
        pv.get(ref)  # stale-while-revalidate: may still answer the old copy once
    except error:
        return True
    pv.wait_idle()
    try:
        pv.get(ref)
    except error:
        return True
    return False


@pytest.mark.parametrize("change", ["archive", "remove"])
def test_a_client_that_missed_the_event_learns_it_at_its_refresh(
    live: Live, sqlite_url: str, change: str
) -> None:
    # No push: the event never reaches this client. The change goes through another
    # process, and server A holds label pointers for an hour: it must follow the event
    # itself (from its start, with no stream open) to answer the refresh rightly.
    other = Vault(Settings(database_url=sqlite_url, label_ttl=TTL))
    live.vault.registry.resolver.ttl = TTL
    clock = FakeClock()
    try:
        with PromptVaultClient(
            live.base, live.key, cache_ttl=TTL, push=False, clock=clock, timeout=30
        ) as pv:
            assert pv.get("support").version == 1
            assert pv.get("support@staging").version == 2
            assert pv.get("support@1").version == 1
            if change == "archive":
                other.archive("support", actor="elsewhere")
                refs, error = ("support", "support@staging", "support@1"), PromptNotFound
            else:
                other.delete_label("support", "staging", actor="elsewhere")
                refs, error = ("support@staging",), LabelNotFound
            for ref in refs:

                def gone(ref: str = ref) -> bool:
                    return _gone_after_refresh(pv, clock, ref, error)

                wait_until(gone, what=f"{ref} to be refused after its refresh")
            with pytest.raises(error):  # and stays refused: no last-good copy served
                pv.get(refs[0])
            if change == "remove":
                assert pv.get("support").version == 1
    finally:
        other.close()


def test_the_async_client_that_missed_the_event_learns_it_at_its_refresh(live: Live) -> None:
    clock = FakeClock()

    async def scenario() -> None:
        async with AsyncPromptVaultClient(
            live.base, live.key, cache_ttl=TTL, push=False, clock=clock, timeout=30
        ) as pv:
            assert (await pv.get("support@staging")).version == 2
            await asyncio.to_thread(live.vault.archive, "support", actor="alice")
            clock.advance(TTL + 1)
            await pv.get("support@staging")  # stale once, refreshed in the background
            await pv.wait_idle()
            with pytest.raises(PromptNotFound) as exc:
                await pv.get("support@staging")
            assert exc.value.code == "prompt_not_found"
            assert exc.value.details["archived"] is True

    asyncio.run(scenario())


def _forked_child(pv: PromptVaultClient, moved: Any, out: Any) -> None:
    """In the child: the inherited cache answers, then the child's own stream brings the
    move (the TTL is an hour: nothing else could)."""
    try:
        assert pv.get("support").version == 1
        assert pv.render("support", {"name": "Ada"}) == "one Ada"
        wait_until(lambda: pv.push_connected, what="the child's stream to open")
        out.put(("ready", os.getpid()))
        assert moved.wait(60)
        wait_until(lambda: pv.get("support").version == 2, what="the move in the child")
        assert pv.render("support", {"name": "Ada"}) == "two Ada"
        out.put(("moved", pv._push is not None and pv._push.state.cursor is not None))
    except BaseException as exc:  # reported to the parent, which fails the test
        out.put(("error", repr(exc)))
    finally:
        pv.close()


def test_a_forked_child_gets_its_own_stream(live: Live) -> None:
    context = multiprocessing.get_context("fork")
    moved, out = context.Event(), context.Queue()
    with PromptVaultClient(live.base, live.key, cache_ttl=TTL, timeout=30) as pv:
        assert pv.render("support", {"name": "Ada"}) == "one Ada"
        wait_until(lambda: pv.push_connected, what="the parent's stream to open")
        child = context.Process(target=_forked_child, args=(pv, moved, out))
        child.start()
        try:
            kind, detail = out.get(timeout=60)
            assert (kind, detail) == ("ready", child.pid)
            live.vault.set_label("support", "production", 2, actor="alice")
            moved.set()
            assert out.get(timeout=60) == ("moved", True)
            # The parent's stream is its own, and still works.
            wait_until(lambda: pv.get("support").version == 2, what="the move in the parent")
        finally:
            child.join(60)
        assert child.exitcode == 0


def test_a_fork_before_the_first_read_works_too(live: Live) -> None:
    # gunicorn's pre-fork: the client is made at import, used only in the workers.
    pv = PromptVaultClient(live.base, live.key, cache_ttl=TTL, timeout=30)
    ready_r, ready_w = os.pipe()
    moved_r, moved_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only when it saw the move by push
        code = 1
        try:
            assert pv.get("support").version == 1
            wait_until(lambda: pv.push_connected, what="the child's stream to open")
            os.write(ready_w, b"r")
            assert os.read(moved_r, 1) == b"m"
            wait_until(lambda: pv.get("support").version == 2, what="the move in the child")
            pv.close()
            code = 0
        finally:
            os._exit(code)
    try:
        assert os.read(ready_r, 1) == b"r"
        live.vault.set_label("support", "production", 2, actor="alice")
        os.write(moved_w, b"m")
    finally:
        _, status = os.waitpid(pid, 0)
        for fd in (ready_r, ready_w, moved_r, moved_w):
            os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    pv.close()


def test_an_async_client_forked_from_a_running_loop_gets_its_own_stream(live: Live) -> None:
    # The parent's loop runs in a thread with the client warm and streaming when the process
    # forks; the child has no such loop, and uses the client in a loop of its own.
    pv = AsyncPromptVaultClient(live.base, live.key, cache_ttl=TTL, timeout=30)
    parent_loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=parent_loop.run_forever, daemon=True)
    loop_thread.start()

    def in_parent(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, parent_loop).result(60)

    assert in_parent(pv.render("support", {"name": "Ada"})) == "one Ada"
    wait_until(lambda: pv.push_connected, what="the parent's stream to open")
    ready_r, ready_w = os.pipe()
    moved_r, moved_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only when the move came by its own stream
        code = 1
        try:

            async def child() -> None:
                assert (await pv.get("support")).version == 1  # the inherited cache
                assert not pv.push_connected  # the parent's stream is not the child's
                await async_wait_until(lambda: pv.push_connected, what="the child's stream")
                os.write(ready_w, b"r")
                assert await asyncio.to_thread(os.read, moved_r, 1) == b"m"

                async def moved() -> bool:
                    return (await pv.get("support")).version == 2

                deadline = asyncio.get_running_loop().time() + 60
                while not await moved():
                    assert asyncio.get_running_loop().time() < deadline, "no move in the child"
                    await asyncio.sleep(0.01)
                assert await pv.render("support", {"name": "Ada"}) == "two Ada"
                await pv.aclose()

            asyncio.run(child())
            code = 0
        finally:
            os._exit(code)
    try:
        assert _read_within(ready_r, 60) == b"r", "the child's stream did not open"
        live.vault.set_label("support", "production", 2, actor="alice")
        os.write(moved_w, b"m")
        deadline = time.monotonic() + 60
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert done[0] == pid, "the child did not see the move"
        pid = 0  # reaped
        assert os.waitstatus_to_exitcode(done[1]) == 0
        # The parent's stream is its own, and still works.
        wait_until(lambda: in_parent(pv.get("support")).version == 2, what="the move in the parent")
    finally:
        if pid and os.waitpid(pid, os.WNOHANG)[0] == 0:  # a child stuck in a failed check
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        for fd in (ready_r, ready_w, moved_r, moved_w):
            os.close(fd)
        in_parent(pv.aclose())
        parent_loop.call_soon_threadsafe(parent_loop.stop)
        loop_thread.join(30)
        parent_loop.close()


def _read_within(fd: int, seconds: float) -> bytes:
    """One byte from ``fd``, or b"" when none comes within ``seconds``."""
    readable, _, _ = select.select([fd], [], [], seconds)
    return os.read(fd, 1) if readable else b""
