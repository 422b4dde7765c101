"""SIGKILL the server (and its dispatcher) in the middle of a delivery: after a restart
every event arrives, and a receiver deduplicating by webhook-id sees each exactly once."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from pathlib import Path

import pytest
from tests.server.live import live_server
from tests.waiting import wait_until

from promptvault import Vault
from promptvault.config import Settings

from .receiver import Received, Receiver

MOVES = 6


@pytest.mark.slow
def test_killed_mid_delivery_then_restarted(
    tmp_path: Path, sink: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "srv"
    home.mkdir()
    for name, value in {
        "WEBHOOK_ALLOW_NETWORKS": '["127.0.0.0/8"]',
        "WEBHOOK_LEASE_SECONDS": "1",
        "WEBHOOK_POLL_INTERVAL": "0.05",
        "WEBHOOK_RETRY_SCHEDULE": "[0.05, 0.1, 0.2]",
    }.items():
        monkeypatch.setenv(f"PROMPTVAULT_{name}", value)
    held, release = threading.Event(), threading.Event()
    seen: list[str] = []

    def answer(got: Received) -> int:
        seen.append(got.id)
        if len(set(seen)) == 3 and not held.is_set():
            held.set()  # the third message: hold the answer until the server is dead
            release.wait(30)
        return 200

    sink.answer = answer  # type: ignore[assignment]
    vault = Vault(Settings(database_url=f"sqlite:///{home / 'live.db'}", home=home))
    try:
        vault.push("team/support", template="v1", author="setup")
        _, hook = vault.webhooks.create(sink.url, event_types=["label.moved"], actor="admin")
        with live_server(home) as server:
            for _ in range(MOVES):
                vault.push(
                    "team/support", template=str(uuid.uuid4()), author="alice", labels=["staging"]
                )
            wait_until(held.is_set, what="the third delivery to be in flight")
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait()
            release.set()
        assert len(set(seen)) == 3  # nothing more was sent by the dead server
        with live_server(home):
            wait_until(lambda: len(sink.unique()) == MOVES, what="every event after restart")
            wait_until(
                lambda: vault.webhooks.get(hook.id).cursor == vault.webhooks.feed.last_id(),
                what="the cursor to reach the head",
            )
        unique = sink.unique()
        assert [r.json["data"]["new_version"] for r in unique] == list(range(2, MOVES + 2))
        # At least once: the message in flight at the kill was sent again, with the same
        # webhook-id (so were any whose success was not yet written); the deduplicating
        # receiver above kept each exactly once.
        assert sink.ids().count(unique[2].id) >= 2
        assert len(sink.ids()) - MOVES <= 3
    finally:
        vault.close()
