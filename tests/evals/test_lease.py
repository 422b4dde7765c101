"""Leases on runs: the executing process renews its claim while the model is slow, a resume
cannot take a run whose lease holds, a process whose run was taken over records nothing
more, and a running run without a lease (from before leases) reads as interrupted."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from promptvault import Vault
from promptvault.config import Settings
from promptvault.errors import ConflictError
from promptvault.evals.models import Run
from promptvault.evals.service import EvalService
from promptvault.storage.tables import EvalResultRow, EvalRunRow, utcnow
from waiting import wait_until

from .model_stub import ModelStub


class Background:
    """``fn()`` in a thread; ``join()`` returns its value or raises its error."""

    def __init__(self, fn: Callable[[], Run]) -> None:
        self._box: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, args=(fn,))
        self._thread.start()

    def _run(self, fn: Callable[[], Run]) -> None:
        try:
            self._box["value"] = fn()
        except BaseException as exc:
            self._box["error"] = exc

    def join(self) -> Run:
        self._thread.join()
        if "error" in self._box:
            raise self._box["error"]
        return self._box["value"]  # type: ignore[no-any-return]


def _service(vault: Vault, lease: float) -> EvalService:
    settings = vault.settings.model_copy(update={"eval_lease": lease})
    return EvalService(vault.db, settings, build=vault.build, resolve=vault.registry.resolver.get)


def _row(vault: Vault, run_id: str) -> dict[str, Any]:
    with vault.db.read() as session:
        row = session.execute(select(EvalRunRow).where(EvalRunRow.id == run_id)).scalar_one()
        return {"status": row.status, "owner": row.owner, "lease_until": row.lease_until}


def _done(vault: Vault, run_id: str) -> int:
    progress = vault.evals.get_run(run_id, results=False).progress
    return 0 if progress is None else progress.done


def _only_run(vault: Vault) -> str:
    wait_until(vault.evals.runs, what="the run recorded")
    return vault.evals.runs()[0].id


def test_a_slow_run_keeps_its_lease_and_cannot_be_resumed(vault: Vault, stub: ModelStub) -> None:
    stub.hold()  # no answer until released
    running = Background(lambda: _service(vault, 5).run("d", "qa@production", concurrency=2))
    run_id = _only_run(vault)
    first: datetime = _row(vault, run_id)["lease_until"]
    # no result to commit, but the lease is renewed all the same
    wait_until(lambda: _row(vault, run_id)["lease_until"] > first, what="the lease renewed")
    assert vault.evals.get_run(run_id).status == "running"
    with pytest.raises(ConflictError) as refused:
        vault.evals.run("d", resume=run_id)
    assert refused.value.details["field"] == "resume"

    stub.release()
    run = running.join()
    assert run.status == "finished" and run.summary is not None and run.summary.finished == 12
    assert _row(vault, run_id)["lease_until"] is None  # a finished run holds no lease


def test_a_run_taken_over_records_nothing_more(
    vault: Vault, evals: EvalService, stub: ModelStub
) -> None:
    stub.hold(after=3)
    running = Background(lambda: evals.run("d", "qa@production", concurrency=1))
    run_id = _only_run(vault)
    wait_until(lambda: _done(vault, run_id) == 3, what="three results committed")
    # Another process claims the run, as it may once the lease has run out (here: it is
    # told the time is an hour later).
    later = utcnow() + timedelta(hours=1)
    claimed = vault.db.write_work(
        lambda work: work.evals.claim_run(
            run_id, owner="elsewhere", until=later + timedelta(minutes=1), now=later
        )
    )
    assert claimed

    stub.release()
    with pytest.raises(ConflictError):
        running.join()
    assert [r.key for r in vault.evals.get_run(run_id).results or []] == ["c00", "c01", "c02"]
    row = _row(vault, run_id)
    assert (row["owner"], row["status"]) == ("elsewhere", "running")  # left to its new owner


def test_a_running_run_without_a_lease_reads_interrupted_and_resumes(
    vault: Vault, evals: EvalService, stub: ModelStub
) -> None:
    run = evals.run("d", "qa@production")
    # As a run started before leases whose process died: running, no lease, 8 results.
    vault.db.write(
        lambda s: s.execute(
            delete(EvalResultRow).where(
                EvalResultRow.run_id == run.id, EvalResultRow.case_key >= "c08"
            )
        )
    )
    vault.db.write(
        lambda s: s.execute(
            update(EvalRunRow)
            .where(EvalRunRow.id == run.id)
            .values(status="running", owner=None, lease_until=None, summary=None)
        )
    )
    assert evals.get_run(run.id).status == "interrupted"
    assert [r.status for r in evals.runs()] == ["interrupted"]

    served = stub.served
    resumed = evals.run("d", resume=run.id, cache=False)
    assert stub.served - served == 4  # only the cases without a result
    assert resumed.status == "finished" and resumed.summary is not None
    assert resumed.summary.finished == 12


def test_claims_and_renewals_exclude_each_other(database_url: str) -> None:
    vault = Vault(Settings(database_url=database_url, secret_key="k"))
    try:
        vault.push("p", template="Say {{x}}", config={"model": "m"})
        vault.evals.create_dataset("d", cases=[{"key": "a", "variables": {"x": "1"}}])
        vault.evals.set_provider("local", kind="openai", base_url="http://127.0.0.1:9/v1")
        run_id = vault.evals.prepare_run("d", "p", provider="local").run.id  # never executed
        owner = _row(vault, run_id)["owner"]
        now = utcnow()

        def claim(who: str, at: datetime) -> bool:
            until = at + timedelta(seconds=30)
            return bool(
                vault.db.write_work(
                    lambda w: w.evals.claim_run(run_id, owner=who, until=until, now=at)
                )
            )

        def renew(who: str) -> bool:
            until = utcnow() + timedelta(seconds=30)
            return bool(
                vault.db.write_work(lambda w: w.evals.renew_run(run_id, owner=who, until=until))
            )

        assert not claim("other", now)  # the lease holds
        assert renew(owner) and not renew("other")
        assert claim("other", now + timedelta(minutes=5))  # once it has run out
        assert not renew(owner)  # the old owner lost it for good
        assert renew("other")
        assert _row(vault, run_id)["owner"] == "other"
    finally:
        vault.close()
