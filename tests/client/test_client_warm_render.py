"""The SDK's warm render path on the real clock: no clock read per call, yet never past a TTL.

A fresh entry's renderer is served from ``ClientCore.live``; the process-wide expiry timer
takes it out when the TTL ends, and any change to a cached entry takes them all out.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

import httpx

from promptvault.client import PromptVaultClient
from promptvault.client.expiry import Timer
from waiting import wait_until

from .fakes import BASE, FakeClock, FakeServer


def answer_label_moves(server: FakeServer) -> None:
    """Let the fake server also take ``PUT .../labels/{label}`` (the rest as before)."""
    resolve = server._handle

    def handle(request: httpx.Request) -> httpx.Response:
        parts = request.url.path.split("/")
        if request.method == "PUT" and parts[-2] == "labels":
            name, label = parts[3], parts[-1]
            number = json.loads(request.content)["version"]
            before = server.labels[name].get(label)
            server.move(name, label, number)
            event = {
                "id": 1,
                "name": name,
                "label": label,
                "from_version": before,
                "to_version": number,
                "actor": "tester",
                "at": datetime(2024, 1, 1, tzinfo=UTC).isoformat(),
            }
            return httpx.Response(200, json=event)
        server.handler = None
        try:
            return resolve(request)
        finally:
            server.handler = handle

    server.handler = handle


def test_warm_render_goes_stale_when_the_ttl_ends(server: FakeServer) -> None:
    server.add("support", "v1 {{x}}")
    with PromptVaultClient(BASE, "pv_test", transport=server.transport(), cache_ttl=1.0) as pv:
        assert pv.render("support", {"x": "a"}) == "v1 a"
        assert pv.render("support", {"x": "a"}) == "v1 a"
        assert "support" in pv._core.live  # the clock-free path serves it now
        server.add("support", "v2 {{x}}")
        server.move("support", "production", 2)
        assert pv.render("support", {"x": "a"}) == "v1 a"  # fresh (or stale) for now
        wait_until(lambda: "support" not in pv._core.live, what="the TTL to end")
        # Stale: answered at once, refreshed behind, then the new version.
        wait_until(lambda: pv.render("support", {"x": "a"}) == "v2 a", what="the refresh")


def test_a_pinned_version_stays_on_the_warm_path(server: FakeServer) -> None:
    server.add("support", "v1 {{x}}")
    with PromptVaultClient(BASE, "pv_test", transport=server.transport(), cache_ttl=60) as pv:
        for _ in range(3):
            assert pv.render("support@1", {"x": "a"}) == "v1 a"
        assert "support@1" in pv._core.live
        assert server.resolves() == 1


def test_a_label_move_through_the_client_is_seen_at_once(server: FakeServer) -> None:
    server.add("support", "v1 {{x}}")
    server.add("support", "v2 {{x}}")
    answer_label_moves(server)
    with PromptVaultClient(BASE, "pv_test", transport=server.transport(), cache_ttl=3600) as pv:
        assert pv.render("support", {"x": "a"}) == "v1 a"
        assert pv.render("support", {"x": "a"}) == "v1 a"
        assert "support" in pv._core.live
        pv.set_label("support", "production", 2)
        assert pv.render("support", {"x": "a"}) == "v2 a"


def test_a_renderer_read_before_a_change_is_not_kept(server: FakeServer) -> None:
    server.add("support", "v1 {{x}}")
    with PromptVaultClient(BASE, "pv_test", transport=server.transport(), cache_ttl=3600) as pv:
        pv.get("support")
        core = pv._core
        entry = core.hot["support"]
        epoch = core.live_epoch
        core.drop_live()  # e.g. a refresh stored a new version meanwhile
        core.promote("support", entry, epoch)
        assert "support" not in core.live
        core.promote("support", entry, core.live_epoch)
        assert "support" in core.live


def test_a_callers_clock_keeps_every_call_on_the_timed_path(
    server: FakeServer, clock: FakeClock
) -> None:
    server.add("support", "v1 {{x}}")
    transport = server.transport()
    with PromptVaultClient(BASE, "pv_test", transport=transport, clock=clock, cache_ttl=60) as pv:
        assert pv.render("support", {"x": "a"}) == "v1 a"
        assert pv.render("support", {"x": "a"}) == "v1 a"
        assert pv._core.live == {}
        server.add("support", "v2 {{x}}")
        server.move("support", "production", 2)
        clock.advance(61)
        assert pv.render("support", {"x": "a"}) == "v1 a"  # stale, refresh behind
        pv.wait_idle(5)
        assert pv.render("support", {"x": "a"}) == "v2 a"


def test_timer_runs_callbacks_in_deadline_order() -> None:
    timer = Timer()
    seen: list[str] = []
    now = time.monotonic()
    timer.call_at(now + 0.2, seen.append, "late")
    timer.call_at(now + 0.05, seen.append, "early")  # wakes the sleeping thread sooner
    timer.call_at(now + 3600, seen.append, "never")
    wait_until(lambda: len(seen) == 2, what="two deadlines")
    assert seen == ["early", "late"]
    assert timer.pending() == 1


def test_a_forked_child_drops_what_the_parents_timer_would_have(server: FakeServer) -> None:
    server.add("support", "v1 {{x}}")
    with PromptVaultClient(BASE, "pv_test", transport=server.transport(), cache_ttl=3600) as pv:
        pv.render("support", {"x": "a"})
        pv.render("support", {"x": "a"})
        assert "support" in pv._core.live
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its timer thread did not survive the fork
            os.close(read)
            os.write(write, b"dropped" if "support" not in pv._core.live else b"kept")
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            told = pipe.read()
        os.waitpid(pid, 0)
        assert told == b"dropped"
        assert "support" in pv._core.live  # the parent keeps its timer
