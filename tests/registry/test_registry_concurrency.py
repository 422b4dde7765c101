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


def _push_worker(url: str, worker: int, count: int, start: mp.synchronize.Event) -> None:
    vault = Vault(Settings(database_url=url))
    start.wait()
    for i in range(count):
        vault.push("race", template=f"worker {worker} push {i}", author=f"w{worker}")
    vault.close()


def _label_worker(url: str, worker: int, versions: list[int], start: mp.synchronize.Event) -> None:
    vault = Vault(Settings(database_url=url))
    start.wait()
    for v in versions:
        vault.set_label("race", "canary", v, actor=f"w{worker}")
    vault.close()


def _run(target: object, args_list: list[tuple[object, ...]]) -> None:
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=target, args=(*args, start)) for args in args_list]  # type: ignore[arg-type]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * len(procs)


@pytest.mark.slow
def test_concurrent_pushes_number_contiguously(database_url: str) -> None:
    with Vault(Settings(database_url=database_url)) as vault:  # migrate once, up front
        vault.push("race", template="seed")
    _run(_push_worker, [(database_url, w, PUSHES) for w in range(PROCS)])
    with Vault(Settings(database_url=database_url)) as vault:
        numbers = sorted(v.version for v in vault.versions("race"))
        assert numbers == list(range(1, PROCS * PUSHES + 2))
        templates = {v.template for v in vault.versions("race")}
        assert len(templates) == PROCS * PUSHES + 1
        report = vault.audit.verify()
        assert report.ok, report
        pushes = vault.audit.entries(action="prompt.push")
        assert sorted(e.details["version"] for e in pushes) == numbers


@pytest.mark.slow
def test_racing_label_moves_all_recorded(database_url: str) -> None:
    with Vault(Settings(database_url=database_url)) as vault:
        for i in range(6):
            vault.push("race", template=f"v{i + 1}", labels=["canary"] if i == 0 else None)
    plans = [[(w + k) % 6 + 1 for k in range(MOVES)] for w in range(PROCS)]
    _run(_label_worker, [(database_url, w, plan) for w, plan in enumerate(plans)])
    with Vault(Settings(database_url=database_url)) as vault:
        final = vault.labels("race")["canary"]
        assert 1 <= final <= 6
        history = list(reversed(vault.label_history("race", "canary")))
        # The moves form one chain: each starts where the previous one ended.
        assert history[0].from_version is None
        for prev, cur in itertools.pairwise(history):
            assert cur.from_version == prev.to_version
        assert history[-1].to_version == final
        # Every requested move is in the history, each with its worker's requested target.
        assert len(history) == PROCS * MOVES + 1  # + the push that created the label
        for w, plan in enumerate(plans):
            assert [e.to_version for e in history if e.actor == f"w{w}"] == plan
        assert vault.audit.verify().ok
        assert len(vault.audit.entries(action="label.set")) == PROCS * MOVES + 2  # + production


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
