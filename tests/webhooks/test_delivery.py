"""The dispatcher against a real loopback receiver: signatures, order, retries, disable,
redelivery, filters, and the lease that keeps two dispatchers from double-sending."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from standardwebhooks import Webhook as Verifier
from tests.waiting import wait_until

from promptvault import Vault
from promptvault.webhooks.dispatcher import Dispatcher

from .conftest import fast_settings
from .receiver import Receiver

NAME = "team/support"


@contextmanager
def running(vault: Vault, **kwargs: object) -> Iterator[Dispatcher]:
    dispatcher = Dispatcher(vault.webhooks, **kwargs)  # type: ignore[arg-type]
    dispatcher.start()
    try:
        yield dispatcher
    finally:
        dispatcher.stop()


def _moves(vault: Vault, count: int) -> None:
    """``count`` pushes, each moving ``staging`` to its new version."""
    for _ in range(count):
        vault.push(
            NAME, template=f"{uuid.uuid4()} {{{{name}}}}", author="alice", labels=["staging"]
        )


def test_signed_in_order_and_verified_by_standardwebhooks(vault: Vault, sink: Receiver) -> None:
    secret, hook = vault.webhooks.create(sink.url, event_types=["label.moved"], actor="admin")
    assert secret.startswith("whsec_")
    with running(vault):
        _moves(vault, 5)
        wait_until(lambda: len(sink.requests) >= 5, what="five deliveries")
    verifier = Verifier(secret)
    versions = []
    for got in sink.requests:
        payload = verifier.verify(got.body, got.headers)  # raises on a bad signature
        assert payload["type"] == "label.moved"
        assert payload["data"]["prompt"] == NAME
        assert payload["data"]["label"] == "staging"
        assert payload["data"]["actor"] == "alice"
        versions.append(payload["data"]["new_version"])
    assert versions == [2, 3, 4, 5, 6]  # in commit order
    with pytest.raises(Exception, match="signature"):
        Verifier(secret).verify(sink.requests[0].body + b" ", sink.requests[0].headers)
    log = vault.webhooks.deliveries(hook.id)
    assert [d.ok for d in log] == [True] * 5
    assert all(d.status_code == 200 and d.duration_ms is not None for d in log)
    assert vault.webhooks.get(hook.id).cursor > hook.cursor


def test_retries_after_500s_then_succeeds_in_order(vault: Vault, sink: Receiver) -> None:
    failures = {"left": 3}

    def answer(_r: object) -> int:
        if failures["left"]:
            failures["left"] -= 1
            return 500
        return 200

    sink.answer = answer  # type: ignore[assignment]
    _, hook = vault.webhooks.create(sink.url, event_types=["label.moved"], actor="admin")
    with running(vault):
        _moves(vault, 2)
        wait_until(lambda: len(sink.requests) >= 5, what="three failures, then two deliveries")
    first, second = sink.requests[0].id, sink.requests[4].id
    # The first event is retried with the same webhook-id until it succeeds; then the next.
    assert [r.id for r in sink.requests] == [first] * 4 + [second]
    log = list(reversed(vault.webhooks.deliveries(hook.id)))
    assert [(d.attempt, d.status_code) for d in log] == [
        (1, 500),
        (2, 500),
        (3, 500),
        (4, 200),
        (1, 200),
    ]
    assert log[0].error and "500" in log[0].error
    assert vault.webhooks.get(hook.id).consecutive_failures == 0


def test_disabled_after_a_run_of_failures_then_enabled_by_hand(
    sqlite_url: str, home: Path, sink: Receiver
) -> None:
    vault = Vault(fast_settings(sqlite_url, home, webhook_disable_after=3))
    try:
        vault.push(NAME, template="v1", author="setup")
        sink.answer = lambda r: 503  # type: ignore[assignment]
        _, hook = vault.webhooks.create(sink.url, actor="admin")
        with running(vault):
            _moves(vault, 2)
            wait_until(lambda: not vault.webhooks.get(hook.id).enabled, what="auto-disable")
            stopped = vault.webhooks.get(hook.id)
            assert stopped.disabled_reason == "disabled after 3 consecutive failed deliveries"
            assert len(sink.requests) == 3
            assert len({r.id for r in sink.requests}) == 1  # still at the first event
            audit = vault.audit.entries(action="webhook.disable")
            assert audit[-1].actor == "promptvault webhooks"
            sink.answer = lambda r: 200  # type: ignore[assignment]
            vault.webhooks.set_enabled(hook.id, True, actor="admin")
            wait_until(lambda: len(sink.unique()) == 4, what="delivery resumed after enable")
        # Nothing was skipped: both pushes' version and label events arrived, in order.
        kinds = [r.json["type"] for r in sink.unique()]
        assert kinds == ["version.pushed", "label.moved"] * 2
        assert vault.webhooks.get(hook.id).consecutive_failures == 0
    finally:
        vault.close()


def test_gives_up_on_an_event_after_the_schedule_and_moves_on(
    sqlite_url: str, home: Path, sink: Receiver
) -> None:
    vault = Vault(fast_settings(sqlite_url, home, webhook_retry_schedule=[0.01, 0.01]))
    try:
        vault.push(NAME, template="v1", author="setup")
        calls = {"n": 0}

        def answer(_r: object) -> int:
            calls["n"] += 1
            return 500 if calls["n"] <= 3 else 200

        sink.answer = answer  # type: ignore[assignment]
        _, hook = vault.webhooks.create(sink.url, event_types=["label.moved"], actor="admin")
        with running(vault):
            _moves(vault, 2)
            wait_until(lambda: len(sink.requests) >= 4, what="three attempts, then the next")
        ids = [r.id for r in sink.requests]
        assert ids[0] == ids[1] == ids[2] != ids[3]
        assert vault.webhooks.get(hook.id).enabled
    finally:
        vault.close()


def test_redeliver_sends_the_same_message_again(vault: Vault, sink: Receiver) -> None:
    secret, hook = vault.webhooks.create(sink.url, event_types=["label.moved"], actor="admin")
    with running(vault):
        _moves(vault, 1)
        wait_until(lambda: len(sink.requests) == 1, what="one delivery")
    original = vault.webhooks.deliveries(hook.id)[0]
    again = vault.webhooks.redeliver(hook.id, original.id, actor="admin")
    assert again.trigger == "redeliver" and again.ok and again.event_id == original.event_id
    assert [r.id for r in sink.requests] == [original.message_id] * 2
    assert Verifier(secret).verify(sink.requests[1].body, sink.requests[1].headers)["type"] == (
        "label.moved"
    )
    assert vault.audit.entries(action="webhook.redeliver")[-1].actor == "admin"


def test_test_message_and_filters(vault: Vault, sink: Receiver) -> None:
    _, hook = vault.webhooks.create(
        sink.url, event_types=["label.*"], prompt_prefix="team/", actor="admin"
    )
    result = vault.webhooks.test(hook.id, actor="admin")
    assert result.ok and result.trigger == "test" and result.event_id is None
    assert sink.requests[0].json["type"] == "webhook.test"
    vault.push("other/prompt", template="x", author="bob")  # filtered out: prefix
    vault.archive(NAME, actor="bob")  # filtered out: type
    vault.unarchive(NAME, actor="bob")
    vault.set_label(NAME, "canary", 1, actor="bob")
    with running(vault):
        wait_until(lambda: len(sink.requests) == 2, what="the one matching event")
        assert sink.requests[1].json["data"]["label"] == "canary"
        # A caught-up subscription's cursor passes the filtered-out events too.
        wait_until(
            lambda: vault.webhooks.get(hook.id).cursor == vault.webhooks.feed.last_id(),
            what="cursor at the head",
        )


def test_a_new_subscription_gets_only_later_events(vault: Vault, sink: Receiver) -> None:
    _moves(vault, 2)
    _, _hook = vault.webhooks.create(sink.url, event_types=["label.moved"], actor="admin")
    with running(vault):
        _moves(vault, 1)
        wait_until(lambda: len(sink.requests) == 1, what="the later move")
    assert sink.requests[0].json["data"]["new_version"] == 4


def test_lease_one_dispatcher_delivers_never_both(
    database_url: str, home: Path, sink: Receiver
) -> None:
    """Two dispatchers (two servers) on one database, SQLite and PostgreSQL."""
    first = Vault(fast_settings(database_url, home))
    second = Vault(fast_settings(database_url, home))
    try:
        first.push(NAME, template="v1", author="setup")
        _, _hook = first.webhooks.create(sink.url, event_types=["label.moved"], actor="admin")
        with running(first, holder="one") as a, running(second, holder="two") as b:
            _moves(first, 10)
            wait_until(lambda: len(sink.requests) >= 10, what="ten deliveries")
            assert a.active != b.active  # exactly one holds the lease
        assert len(sink.ids()) == len(set(sink.ids())) == 10
    finally:
        first.close()
        second.close()


def test_lease_taken_over_when_the_holder_stops_renewing(
    sqlite_url: str, home: Path, sink: Receiver
) -> None:
    vault = Vault(fast_settings(sqlite_url, home, webhook_lease_seconds=0.3))
    try:
        vault.push(NAME, template="v1", author="setup")
        vault.webhooks.create(sink.url, event_types=["label.moved"], actor="admin")
        _moves(vault, 1)
        stale = Dispatcher(vault.webhooks, holder="stale")
        assert stale.run_once()  # takes the lease and delivers, then never renews
        other = Dispatcher(vault.webhooks, holder="other")
        _moves(vault, 1)
        assert not other.run_once()  # the lease is still the stale holder's
        wait_until(other.run_once, what="the lease to lapse and move over")
        assert len(sink.ids()) == len(set(sink.ids())) == 2
    finally:
        vault.close()


def test_secret_encrypted_at_rest_when_a_key_is_set(
    sqlite_url: str, home: Path, sink: Receiver
) -> None:
    from sqlalchemy import text

    vault = Vault(fast_settings(sqlite_url, home, secret_key="a passphrase for tests"))
    try:
        vault.push(NAME, template="v1", author="setup")
        secret, hook = vault.webhooks.create(sink.url, event_types=["label.moved"], actor="a")
        with vault.db.read() as session:
            stored = session.execute(text("SELECT secret FROM webhooks")).scalar_one()
        assert stored.startswith("fernet:") and secret not in stored
        _moves(vault, 1)
        assert Dispatcher(vault.webhooks, holder="one").run_once()
        assert Verifier(secret).verify(sink.requests[0].body, sink.requests[0].headers)
        keyless = Vault(fast_settings(sqlite_url, home))
        try:  # without the key the secret cannot be read: the attempt fails and says why
            _moves(keyless, 1)
            assert Dispatcher(keyless.webhooks, holder="one").run_once()
            assert len(sink.requests) == 1
            failed = keyless.webhooks.deliveries(hook.id)[0]
            assert not failed.ok and "PROMPTVAULT_SECRET_KEY is not set" in (failed.error or "")
        finally:
            keyless.close()
    finally:
        vault.close()


def test_old_delivery_log_entries_are_pruned(sqlite_url: str, home: Path, sink: Receiver) -> None:
    vault = Vault(fast_settings(sqlite_url, home, webhook_log_days=1e-9))
    try:
        _, hook = vault.webhooks.create(sink.url, actor="admin")
        vault.webhooks.test(hook.id, actor="admin")
        keep = Dispatcher(Vault(fast_settings(sqlite_url, home)).webhooks)
        assert keep.prune() == 0  # 30 days: nothing is that old
        assert len(vault.webhooks.deliveries(hook.id)) == 1
        dispatcher = Dispatcher(vault.webhooks)
        wait_until(lambda: dispatcher.prune() == 1, what="the entry to age past the limit")
        assert vault.webhooks.deliveries(hook.id) == []
        keep.db.dispose()
    finally:
        vault.close()
