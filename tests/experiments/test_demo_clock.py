"""The demo experiment agrees with the clock: started when its events begin, none ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from promptvault import Vault
from promptvault.config import Settings
from promptvault.demo.experiments import DEMO_EXPERIMENT, load_experiment_demo, window
from promptvault.demo.prompts import load_demo
from promptvault.errors import InvalidInputError


def test_demo_events_lie_between_the_start_and_now(sqlite_url: str) -> None:
    now = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)  # early in the day: late events would spill
    with Vault(Settings(database_url=sqlite_url)) as vault:
        load_demo(vault, actor="demo")
        load_experiment_demo(vault, units=600, now=now)
        exp = vault.experiments.get(DEMO_EXPERIMENT)
        assert exp.started_at is not None
        started = exp.started_at.astimezone(UTC)
        assert started == window(7, now) == datetime(2026, 3, 8, tzinfo=UTC)
        with vault.db.engine.connect() as conn:
            bounds = [
                conn.execute(text(f"SELECT min(at), max(at) FROM {table}")).one()
                for table in ("experiment_exposures", "experiment_outcomes")
            ]
        for bound in bounds:
            low, high = (datetime.fromisoformat(str(v)).replace(tzinfo=UTC) for v in bound)
            assert started <= low and high <= now
        days = {p["day"] for p in vault.experiments.report(DEMO_EXPERIMENT).timeline["resolved"]}
        assert len(days) == 7 and max(days) == "2026-03-14"


def test_a_start_cannot_be_backdated_into_the_future(sqlite_url: str) -> None:
    with Vault(Settings(database_url=sqlite_url)) as vault:
        load_demo(vault, actor="demo")
        vault.experiments.create(
            "t",
            prompt="customer_support",
            variants=[{"name": "c", "version": 1}, {"name": "t", "version": 2}],
            primary_metric={"name": "m"},
        )
        with pytest.raises(InvalidInputError) as caught:
            vault.experiments.start("t", at=datetime.now(UTC) + timedelta(hours=1))
        assert caught.value.details["field"] == "at"
