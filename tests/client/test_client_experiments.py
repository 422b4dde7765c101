"""The SDK's experiment side: local assignment, batched events, drops, idempotent retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.client import PromptVaultClient
from promptvault.client.events import EventQueue, SendFailed
from promptvault.config import Settings
from promptvault.experiments.assignment import Assigner
from promptvault.server.app import create_app
from waiting import wait_until

from .fakes import FakeClock

BASE = "http://promptvault.test"


class AppTransport(httpx.BaseTransport):
    """A sync transport into the in-process app; can lose answers to event posts."""

    def __init__(self, app: FastAPI) -> None:
        self.client = TestClient(app, base_url=BASE)
        self.paths: list[str] = []
        self.event_keys: list[str] = []
        self.lose_event_answers = 0
        self.down: set[str] = set()
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        with self.lock:
            self.paths.append(request.url.path)
        if request.url.path in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        answer = self.client.request(
            request.method,
            request.url.path,
            params=request.url.query.decode(),
            content=body,
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
        )
        if request.url.path == "/v1/events":
            import json

            with self.lock:
                self.event_keys.append(json.loads(body)["key"])
                if self.lose_event_answers:
                    self.lose_event_answers -= 1
                    # The server stored the batch, but the answer never comes back.
                    raise httpx.ReadTimeout("answer lost", request=request)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


@pytest.fixture
def vault(database_url: str) -> Iterator[Vault]:
    v = Vault(Settings(database_url=database_url))
    v.push("support", template="Hello {{name}}", author="seed")
    v.push("support", template="Hi {{name}}", author="seed")
    v.experiments.create(
        "tone",
        prompt="support",
        variants=[
            {"name": "control", "version": 1, "weight": 50},
            {"name": "friendly", "version": 2, "weight": 50},
        ],
        primary_metric={"name": "resolved", "kind": "binary"},
    )
    v.experiments.start("tone")
    yield v
    v.close()


@pytest.fixture
def transport(vault: Vault) -> AppTransport:
    return AppTransport(create_app(vault))


@pytest.fixture
def runtime_key(transport: AppTransport) -> str:
    app = transport.client.app
    return str(app.state.keys.create("app", "runtime", actor="setup")[0])  # type: ignore[attr-defined]


def _client(transport: AppTransport, key: str, **options: Any) -> PromptVaultClient:
    options.setdefault("timeout", 60)  # a loaded machine must not turn reads into fallbacks
    return PromptVaultClient(BASE, key, transport=transport, clock=FakeClock(), **options)


def test_get_assigns_locally_and_events_reach_the_report(
    vault: Vault, transport: AppTransport, runtime_key: str
) -> None:
    pv = _client(transport, runtime_key, event_interval=60)
    assigner = Assigner("tone", ["control", "friendly"], [50, 50])
    units = [f"user-{i}" for i in range(30)]
    for unit in units:
        got = pv.get("support", unit_id=unit)
        assert (got.experiment, got.variant) == ("tone", assigner.variant(unit))
        assert got.version == (1 if got.variant == "control" else 2)
    calls = len(transport.paths)
    for unit in units:  # warm: no network call at all
        pv.get("support", unit_id=unit)
        pv.render("support", {"name": "Ada"}, unit_id=unit)
    assert len(transport.paths) == calls
    assert pv.get("support").experiment is None
    friendly = next(u for u in units if assigner.variant(u) == "friendly")
    assert pv.render("support", {"name": "Ada"}, unit_id=friendly) == "Hi Ada"
    for unit in units:
        assert pv.record_outcome("tone", unit, "resolved", unit.endswith(("1", "2")))
    assert pv.flush().waiting == 0
    report = vault.experiments.report("tone")
    assert sum(report.units.values()) == 30
    assert sum(report.exposures.values()) == 30 * 3 + 1
    resolved = report.analysis["metrics"][0]
    assert sum(v["n"] for v in resolved["variants"]) == 30
    pv.close()


def _units_in(vault: Vault, variant: str, count: int) -> list[str]:
    """``count`` unit ids the experiment ``tone`` assigns to ``variant`` (the server checks)."""
    assigner = vault.experiments.get("tone").assigner()
    units = (f"u{i}" for i in range(10_000))
    return [u for u in units if assigner.variant(u) == variant][:count]


def test_a_retried_batch_keeps_its_key_and_counts_once(
    vault: Vault, transport: AppTransport, runtime_key: str
) -> None:
    pv = _client(transport, runtime_key, event_interval=60, retries=0)
    for unit in _units_in(vault, "control", 5):
        pv.record_exposure("tone", unit, variant="control")
    transport.lose_event_answers = 1
    assert pv.flush().waiting == 5  # the answer was lost: the batch waits for a retry
    assert pv.flush().waiting == 0
    assert len(transport.event_keys) == 2 and transport.event_keys[0] == transport.event_keys[1]
    totals = vault.experiments.stored_totals("tone")
    assert totals[("control", "$units")][0] == 5  # stored once although sent twice
    pv.close()


def test_close_sends_what_is_left(vault: Vault, transport: AppTransport, runtime_key: str) -> None:
    pv = _client(transport, runtime_key, event_interval=60)
    pv.get("support", unit_id="someone")
    pv.close()
    assert sum(vault.experiments.report("tone").units.values()) == 1


def test_background_thread_sends_full_batches(
    vault: Vault, transport: AppTransport, runtime_key: str
) -> None:
    pv = _client(transport, runtime_key, event_interval=600, event_batch_size=10)
    for unit in _units_in(vault, "friendly", 25):
        pv.record_exposure("tone", unit, variant="friendly")
    events = pv.experiments.events
    # The two full batches go out without a flush; the last 5 wait for the interval.
    wait_until(lambda: events.sent >= 20, what="two full batches")
    assert (events.sent, len(events)) == (20, 5)
    pv.close()
    assert vault.experiments.stored_totals("tone")[("friendly", "$units")][0] == 25


def test_experiments_never_break_a_request(
    vault: Vault, transport: AppTransport, runtime_key: str
) -> None:
    pv = _client(transport, runtime_key, event_interval=60, retries=0)
    transport.down = {"/v1/experiments/running", "/v1/events"}
    got = pv.get("support", unit_id="u1")  # definitions unreachable: the label's version
    assert (got.version, got.experiment) == (1, None)
    transport.down = {"/v1/events"}
    pv.experiments._running.clear()  # as if the retry pause had passed
    routed = pv.get("support", unit_id="u1")
    assert routed.experiment == "tone"
    assert pv.flush().waiting == 1  # the exposure waits for the server, with its key
    transport.down = set()
    assert pv.flush().waiting == 0
    assert vault.experiments.stored_totals("tone")[(str(routed.variant), "$units")][0] == 1
    pv.close()


# --- unit-less exposures -----------------------------------------------------------------

DRAWS = 2000


def _friendly_share(counts: dict[str, int]) -> int:
    assert sum(counts.values()) == DRAWS
    return counts["friendly"]


def _close_to_ten_percent(friendly: int) -> bool:
    # 90/10 over 2,000 draws: 200 expected, standard deviation 13.4; a uniform draw gives
    # about 1,000.
    return abs(friendly - DRAWS // 10) < 70


def test_every_path_draws_unit_less_exposures_with_the_weights(
    vault: Vault, transport: AppTransport, runtime_key: str
) -> None:
    vault.experiments.ramp("tone", {"control": 90, "friendly": 10})

    # Library: get() without a unit, then exposures queued without a variant.
    served = [vault.get("support", unit_id=None).variant for _ in range(DRAWS)]
    assert _close_to_ten_percent(served.count("friendly"))
    assert _close_to_ten_percent(_friendly_share(vault.experiments.report("tone").random_exposures))
    for _ in range(DRAWS):
        vault.experiments.record_exposure("tone", None)
    total = vault.experiments.report("tone").random_exposures
    assert _close_to_ten_percent(total["friendly"] - served.count("friendly"))

    # Server: a batch of exposures naming neither unit nor variant.
    before = vault.experiments.report("tone").random_exposures["friendly"]
    answer = transport.client.post(
        "/v1/events",
        json={"events": [{"type": "exposure", "experiment": "tone"}] * DRAWS},
        headers={"Authorization": f"Bearer {runtime_key}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == DRAWS
    after = vault.experiments.report("tone").random_exposures["friendly"]
    assert _close_to_ten_percent(after - before)

    # SDK: get() without a unit assigns locally; exposures without a variant go to the server.
    pv = PromptVaultClient(BASE, runtime_key, transport=transport, clock=FakeClock(), timeout=60)
    sdk = [pv.get("support", unit_id=None).variant for _ in range(DRAWS)]
    assert _close_to_ten_percent(sdk.count("friendly"))
    before = after
    for _ in range(DRAWS):
        pv.record_exposure("tone", None)
    pv.flush()
    after = vault.experiments.report("tone").random_exposures["friendly"]
    assert _close_to_ten_percent(after - before - sdk.count("friendly"))
    pv.close()


# --- the queue on its own ----------------------------------------------------------------


def test_a_full_buffer_sends_whole_batches_only() -> None:
    sizes: list[int] = []
    queue = EventQueue(lambda k, e: sizes.append(len(e)), batch_size=10, interval=600)
    with queue._cond:  # the sending thread cannot cut before all 18 events are in
        for i in range(18):
            queue.add({"n": i})
    wait_until(lambda: queue.sent >= 10, what="the first full batch")
    assert sizes == [10] and len(queue) == 8  # the other 8 wait for the interval
    assert queue.flush() == 0 and sizes == [10, 8]
    queue.close()


def test_overflow_without_waiting_drops_counts_and_reports() -> None:
    sent: list[tuple[str, list[dict[str, Any]], int]] = []
    queue = EventQueue(
        lambda k, e, dropped=0: sent.append((k, e, dropped)),
        batch_size=100,
        interval=60,
        max_buffer=5,
        block_timeout=0,
    )
    with queue._cond:  # the sender cannot make room while the eight are recorded
        results = [queue.add({"n": i}) for i in range(8)]
    assert results == [True] * 5 + [False] * 3
    assert queue.dropped == 3
    assert tuple(queue.settle()) == (5, 3, 0)
    assert [e["n"] for e in sent[0][1]] == [0, 1, 2, 3, 4]
    assert sum(d for _, _, d in sent) == 3  # the drops travel with the next batch, once
    assert tuple(queue.settle()) == (0, 0, 0)
    queue.close()


def test_a_full_buffer_waits_for_the_sender_instead_of_dropping() -> None:
    sent: list[int] = []
    gate = threading.Event()

    def slow(key: str, events: list[dict[str, Any]]) -> None:
        gate.wait(10)  # the first batch is held until the producer has waited for room
        sent.extend(e["n"] for e in events)

    queue = EventQueue(slow, batch_size=4, interval=60, max_buffer=5, block_timeout=30)
    accepted: list[bool] = []
    producer = threading.Thread(
        target=lambda: accepted.extend(queue.add({"n": i}) for i in range(40))
    )
    producer.start()
    wait_until(lambda: queue._held() >= 5, what="a full buffer")  # the producer now waits
    gate.set()
    producer.join(30)
    assert accepted == [True] * 40
    result = queue.settle()
    assert (result.lost, result.waiting, queue.dropped) == (0, 0, 0)
    assert sorted(sent) == list(range(40))
    queue.close()


def test_retry_keeps_key_and_events_and_refused_batches_are_counted() -> None:
    attempts: list[tuple[str, list[int]]] = []
    outcomes = iter([SendFailed("down", retry=True), None, SendFailed("bad", retry=False)])

    def send(key: str, events: list[dict[str, Any]]) -> None:
        attempts.append((key, [e["n"] for e in events]))
        result = next(outcomes)
        if result is not None:
            raise result

    queue = EventQueue(send, batch_size=3, interval=60, max_buffer=100)
    for i in range(3):
        queue.add({"n": i})
    assert queue.flush() == 3  # failed, kept for a retry
    assert queue.flush() == 0
    assert attempts[0] == attempts[1] and attempts[0][1] == [0, 1, 2]
    queue.add({"n": 9})
    assert queue.flush() == 0  # refused by the server: dropped, counted
    assert queue.failed == 1 and queue.sent == 3
    queue.close()
    assert not queue.add({"n": 10}) and queue.dropped == 1  # closed queues take nothing


def test_the_sdk_backdates_a_start_and_the_server_refuses_the_future(
    vault: Vault, transport: AppTransport, runtime_key: str
) -> None:
    from datetime import UTC, datetime, timedelta

    from promptvault.errors import InvalidInputError

    app = transport.client.app
    admin = str(app.state.keys.create("ops", "admin", actor="setup")[0])  # type: ignore[attr-defined]
    pv = _client(transport, admin)
    vault.experiments.stop("tone")
    pv.experiments.create(
        "later",
        prompt="support",
        variants=[{"name": "control", "version": 1}, {"name": "b", "version": 2}],
        primary_metric={"name": "resolved"},
    )
    with pytest.raises(InvalidInputError):
        pv.experiments.start("later", at=datetime.now(UTC) + timedelta(days=1))
    week_ago = datetime(2026, 1, 1, tzinfo=UTC)
    started = pv.experiments.start("later", at=week_ago)
    assert started.status == "running" and started.started_at == week_ago
    pv.close()
