"""SIGKILL a real server while 8 clients push and move labels; nothing acknowledged is lost.

Each round starts ``promptvault serve`` on a loopback port, lets 8 SDK clients write to it
(pushes to one shared prompt, label moves on another) and kills the process with SIGKILL at
a random moment. After the last round the database must hold every acknowledged write, with
version numbers 1..N and no gap, one unbroken label history and a verified audit chain. An
application using the SDK with a ``fallback_dir`` keeps rendering through every kill.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from promptvault import Vault
from promptvault.client import PromptVaultClient
from promptvault.config import Settings
from promptvault.entities import LabelEvent, PromptVersion
from promptvault.errors import PromptUnavailable

ROUNDS = 6
WRITERS = 8
FLAG_VERSIONS = 5


class Ledger:
    """What the server acknowledged, and anything that failed in a way a kill cannot cause."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pushes: list[PromptVersion] = []
        self.moves: list[LabelEvent] = []
        self.unexpected: list[str] = []
        self.renders = 0
        self.render_failures: list[str] = []

    def acked(self) -> int:
        with self.lock:
            return len(self.pushes) + len(self.moves)


def _writer(
    base: str, key: str, worker: int, round_: int, stop: threading.Event, ledger: Ledger
) -> None:
    rng = random.Random(f"{round_}-{worker}")
    with PromptVaultClient(base, key, timeout=2.0, retries=0) as client:
        for op in itertools.count():
            if stop.is_set():
                return
            try:
                if op % 3 == 2:
                    target = rng.randint(1, FLAG_VERSIONS)
                    event = client.set_label("flags", "canary", target)
                    with ledger.lock:
                        ledger.moves.append(event)
                else:
                    result = client.push("crash", template=f"r{round_} w{worker} op{op}")
                    assert result.created
                    with ledger.lock:
                        ledger.pushes.append(result.version)
            except PromptUnavailable as exc:
                # Only a network failure (the server died) is expected; an answered 5xx is not.
                if exc.details.get("status") is not None:
                    with ledger.lock:
                        ledger.unexpected.append(f"w{worker}: {exc.message}")
                time.sleep(0.01)
            except Exception as exc:  # anything else is a defect: reported by the test
                with ledger.lock:
                    ledger.unexpected.append(f"w{worker}: {type(exc).__name__}: {exc}")


def _renderer(app: PromptVaultClient, stop: threading.Event, ledger: Ledger) -> None:
    """The application: renders the canary prompt the whole time, server up or down."""
    expected = {f"flag v{i} for Ada" for i in range(1, FLAG_VERSIONS + 1)}
    while not stop.is_set():
        try:
            text = app.render("flags@canary", {"who": "Ada"})
            if text not in expected:
                ledger.render_failures.append(f"unexpected render {text!r}")
        except Exception as exc:  # the SDK must never fail a render it has rendered before
            ledger.render_failures.append(f"{type(exc).__name__}: {exc}")
        ledger.renders += 1
        time.sleep(0.005)


def _seed(server: Any) -> None:
    with PromptVaultClient(server.base, server.key, retries=0) as client:
        client.push("crash", template="seed")
        for i in range(1, FLAG_VERSIONS + 1):
            client.push("flags", template=f"flag v{i} for {{{{who}}}}")
        client.set_label("flags", "canary", 1)


def _check(database_url: str, ledger: Ledger) -> None:
    with Vault(Settings(database_url=database_url)) as vault:
        versions = {v.version: v for v in vault.versions("crash")}
        # Contiguous: 1..N, no gap, no duplicate (the unique constraint makes duplicates rows).
        assert sorted(versions) == list(range(1, len(versions) + 1))
        for acked in ledger.pushes:
            stored = versions.get(acked.version)
            assert stored is not None, f"acknowledged v{acked.version} lost"
            assert stored.template == acked.template
            assert stored.hash == acked.hash
        assert len({v.template for v in versions.values()}) == len(versions)
        pushes = vault.audit.entries(action="prompt.push", target="prompt:crash")
        assert sorted(e.details["version"] for e in pushes) == sorted(versions)

        history = list(reversed(vault.label_history("flags", "canary")))
        ids = {event.id: event for event in history}
        for acked in ledger.moves:
            stored_event = ids.get(acked.id)
            assert stored_event is not None, f"acknowledged label move {acked.id} lost"
            assert stored_event.to_version == acked.to_version
            if acked.changed:  # a move to where the label already pointed records nothing
                assert stored_event.from_version == acked.from_version
        assert history[0].from_version is None
        for prev, cur in itertools.pairwise(history):
            assert cur.from_version == prev.to_version
        assert vault.labels("flags")["canary"] == history[-1].to_version

        report = vault.audit.verify()
        assert report.ok, report


@pytest.mark.slow
def test_acknowledged_writes_survive_sigkill(
    database_url: str, make_server: Any, tmp_path: Path
) -> None:
    rng = random.Random(12)
    server = make_server(database_url)
    _seed(server)
    ledger = Ledger()
    app = PromptVaultClient(
        server.base,
        server.key,
        cache_ttl=0.2,
        timeout=0.5,
        retries=0,
        fallback_dir=str(tmp_path / "fallback"),
    )
    app_stop = threading.Event()
    renderer = threading.Thread(target=_renderer, args=(app, app_stop, ledger))
    renderer.start()
    try:
        for round_ in range(ROUNDS):
            if round_:
                server.start()
            stop = threading.Event()
            writers = [
                threading.Thread(
                    target=_writer, args=(server.base, server.key, w, round_, stop, ledger)
                )
                for w in range(WRITERS)
            ]
            for t in writers:
                t.start()
            acked_before = ledger.acked()
            deadline = time.monotonic() + 30
            while ledger.acked() == acked_before and time.monotonic() < deadline:
                time.sleep(0.01)  # the writers are under way (a slow start is not a kill)
            assert ledger.acked() > acked_before, (round_, ledger.unexpected[:5])
            time.sleep(rng.uniform(0.0, 0.8))  # then a random moment in the middle of writes
            server.kill()
            stop.set()
            for t in writers:
                t.join(timeout=30)
        server.start()  # the restart after the last kill
        assert app.render("flags@canary", {"who": "Ada"}).startswith("flag v")
    finally:
        app_stop.set()
        renderer.join(timeout=30)
        app.close()
        server.stop()

    assert ledger.unexpected == []
    assert ledger.render_failures == []
    assert ledger.renders > ROUNDS
    _check(database_url, ledger)
