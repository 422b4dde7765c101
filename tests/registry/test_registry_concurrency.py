"""Many processes writing at once: contiguous version numbers, every label move recorded."""

from __future__ import annotations

import itertools
import multiprocessing as mp

import pytest

from promptvault import Vault
from promptvault.config import Settings

PROCS = 4
PUSHES = 20
MOVES = 8


def _worker(url: str, worker: int, plan: list[int], ready: object, start: object) -> None:
    """Push PUSHES versions to "race" and move "canary" of "flags" along ``plan``, mixed."""
    vault = Vault(Settings(database_url=url))
    vault.get("flags")  # imported, connected and warm before the race starts
    ready.put(worker)  # type: ignore[attr-defined]
    start.wait()  # type: ignore[attr-defined]
    moves = iter(plan)
    for i in range(PUSHES):
        vault.push("race", template=f"worker {worker} push {i}", author=f"w{worker}")
        if i % 2 == 0:
            target = next(moves, None)
            if target is not None:
                vault.set_label("flags", "canary", target, actor=f"w{worker}")
    for target in moves:
        vault.set_label("flags", "canary", target, actor=f"w{worker}")
    vault.close()


@pytest.mark.slow
def test_concurrent_writers(database_url: str) -> None:
    with Vault(Settings(database_url=database_url)) as vault:  # migrate once, up front
        vault.push("race", template="seed")
        for i in range(6):
            vault.push("flags", template=f"v{i + 1}", labels=["canary"] if i == 0 else None)
    plans = [[(w + k) % 6 + 1 for k in range(MOVES)] for w in range(PROCS)]
    ctx = mp.get_context("spawn")
    ready, start = ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=_worker, args=(database_url, w, plans[w], ready, start))
        for w in range(PROCS)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    start.set()  # every worker is ready: they really race
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * PROCS

    with Vault(Settings(database_url=database_url)) as vault:
        # Pushes: versions 1..N+1 with no gap or duplicate, each in the audit log once.
        numbers = sorted(v.version for v in vault.versions("race"))
        assert numbers == list(range(1, PROCS * PUSHES + 2))
        assert len({v.template for v in vault.versions("race")}) == PROCS * PUSHES + 1
        pushes = vault.audit.entries(action="prompt.push", target="prompt:race")
        assert sorted(e.details["version"] for e in pushes) == numbers

        # Label moves: one chain, each move starting where the previous ended, all recorded.
        final = vault.labels("flags")["canary"]
        assert 1 <= final <= 6
        history = list(reversed(vault.label_history("flags", "canary")))
        assert history[0].from_version is None
        for prev, cur in itertools.pairwise(history):
            assert cur.from_version == prev.to_version
        assert history[-1].to_version == final
        # A move to where the label already is records nothing, so each worker's recorded
        # moves are its plan in order, less the ones that found the label there already.
        assert len(history) <= PROCS * MOVES + 1  # + the push that created the label
        for w, plan in enumerate(plans):
            recorded = iter(plan)
            mine = [e.to_version for e in history if e.actor == f"w{w}"]
            assert all(v in recorded for v in mine), (mine, plan)
        moves = vault.audit.entries(action="label.set", target="prompt:flags")
        assert len(moves) == len(history) + 1  # + production on version 1
        report = vault.audit.verify()
        assert report.ok, report


def test_threads_share_one_vault(sqlite_url: str) -> None:
    import threading

    with Vault(Settings(database_url=sqlite_url)) as vault:
        errors: list[BaseException] = []

        def pusher(worker: int) -> None:
            try:
                for i in range(15):
                    vault.push("threads", template=f"{worker}-{i}")
                    vault.render("threads")
            except BaseException as exc:  # surfaced by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=pusher, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(v.version for v in vault.versions("threads")) == list(range(1, 61))
        assert vault.audit.verify().ok
