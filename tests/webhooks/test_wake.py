"""A committed change wakes the dispatcher (in its own process directly, from any process on
PostgreSQL by LISTEN/NOTIFY): the webhook leaves long before the next poll."""

from __future__ import annotations

import threading
from pathlib import Path

from starlette.testclient import TestClient
from tests.waiting import wait_until

from promptvault import Vault
from promptvault.server.app import create_app
from promptvault.webhooks.dispatcher import Dispatcher

from .conftest import fast_settings
from .receiver import Received, Receiver


def test_a_change_wakes_the_dispatcher_on_postgres(
    postgres_url: str, home: Path, sink: Receiver
) -> None:
    # A poll far longer than the wait below: only the notification can deliver in time.
    vault = Vault(fast_settings(postgres_url, home, webhook_poll_interval=300.0))
    try:
        vault.push("team/support", template="v1", author="setup")
        vault.webhooks.create(sink.url, event_types=["label.moved"], actor="admin")
        app = create_app(vault)
        with TestClient(app):
            dispatcher = app.state.webhook_dispatcher
            wait_until(lambda: dispatcher.rounds >= 1, what="the dispatcher's first look")
            vault.set_label("team/support", "canary", 1, actor="alice")
            wait_until(lambda: len(sink.requests) == 1, what="the woken delivery", timeout=30)
        assert sink.requests[0].json["data"]["label"] == "canary"
    finally:
        vault.close()


def test_a_change_committed_in_this_process_wakes_the_dispatcher(
    sqlite_url: str, home: Path, sink: Receiver
) -> None:
    """SQLite has no notifications: a change committed by the dispatcher's own process
    wakes it directly, so it need not poll often."""
    vault = Vault(fast_settings(sqlite_url, home, webhook_poll_interval=300.0))
    dispatcher = Dispatcher(vault.webhooks)
    try:
        vault.push("team/support", template="v1", author="setup")
        vault.webhooks.create(sink.url, event_types=["label.moved"], actor="admin")
        dispatcher.start()
        wait_until(lambda: dispatcher.rounds >= 1, what="the dispatcher's first look")
        vault.set_label("team/support", "canary", 1, actor="alice")
        wait_until(lambda: len(sink.requests) == 1, what="the woken delivery", timeout=30)
        assert sink.requests[0].json["data"]["label"] == "canary"
    finally:
        dispatcher.stop()
        vault.close()


def test_changes_committed_while_every_endpoint_is_busy_follow_at_once(
    sqlite_url: str, home: Path, sink: Receiver
) -> None:
    """Rounds woken while every subscription is mid-delivery are skipped; what was
    committed meanwhile goes out as soon as that delivery is recorded, not at the poll."""
    vault = Vault(fast_settings(sqlite_url, home, webhook_poll_interval=300.0))
    dispatcher = Dispatcher(vault.webhooks)
    held, release = threading.Event(), threading.Event()

    def answer(got: Received) -> int:
        if not held.is_set():
            held.set()
            release.wait(30)
        return 200

    sink.answer = answer  # type: ignore[assignment]
    try:
        vault.push("team/support", template="v1", author="setup")
        vault.webhooks.create(sink.url, event_types=["label.moved"], actor="admin")
        dispatcher.start()
        wait_until(lambda: dispatcher.rounds >= 1, what="the dispatcher's first look")
        vault.set_label("team/support", "canary", 1, actor="alice")
        wait_until(held.is_set, what="the first delivery in flight")
        for label in ("beta", "gamma"):  # each commit wakes a round that finds it busy
            vault.set_label("team/support", label, 1, actor="alice")
        release.set()
        wait_until(lambda: len(sink.requests) == 3, what="the later moves", timeout=30)
        labels = [r.json["data"]["label"] for r in sink.requests]
        assert labels == ["canary", "beta", "gamma"]
    finally:
        release.set()
        dispatcher.stop()
        vault.close()
