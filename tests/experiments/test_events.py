"""Routing through running experiments, exposures, outcomes, batches and statistics."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from promptvault import Vault
from promptvault.errors import InvalidInputError
from promptvault.experiments.assignment import Assigner

from .conftest import PROMPT, FakeClock, make


def test_get_with_unit_id_routes_and_records_exposures(vault: Vault) -> None:
    make(vault)
    assigner = Assigner("tone", ["control", "friendly"], [50, 50])
    units = [f"user-{i}" for i in range(40)]
    for unit in units:
        got = vault.get(PROMPT, unit_id=unit)
        expected = assigner.variant(unit)
        assert got.experiment == "tone" and got.variant == expected
        assert got.version == (1 if expected == "control" else 2)
        assert got.resolved_label == "production"
    vault.get(PROMPT, unit_id=units[0])  # a repeat: one more exposure, not one more unit
    # Without unit_id (or pinned to a version) nothing goes through the experiment.
    assert vault.get(PROMPT).experiment is None
    assert vault.get(f"{PROMPT}@1", unit_id="user-1").experiment is None
    report = vault.experiments.report("tone")
    expected_units = {"control": 0, "friendly": 0}
    for unit in units:
        expected_units[str(assigner.variant(unit))] += 1
    assert report.units == expected_units
    assert sum(report.exposures.values()) == 41
    assert sum(report.random_exposures.values()) == 0


def test_render_with_unit_id_uses_the_variant(vault: Vault) -> None:
    make(vault)
    assigner = Assigner("tone", ["control", "friendly"], [50, 50])
    unit = next(u for u in (f"u{i}" for i in range(100)) if assigner.variant(u) == "friendly")
    assert vault.render(PROMPT, {"name": "Ada"}, unit_id=unit) == "Hi there Ada"
    assert vault.render(PROMPT, {"name": "Ada"}) == "Hello Ada"


def test_unit_id_none_is_random_and_counted_separately(vault: Vault) -> None:
    make(vault)
    seen = {vault.get(PROMPT, unit_id=None).variant for _ in range(60)}
    assert seen == {"control", "friendly"}
    report = vault.experiments.report("tone")
    assert sum(report.random_exposures.values()) == 60
    assert sum(report.units.values()) == 0 and sum(report.exposures.values()) == 0


def test_units_outside_coverage_are_not_exposed(vault: Vault) -> None:
    make(vault, coverage=0.3)
    assigner = Assigner("tone", ["control", "friendly"], [50, 50], coverage=0.3)
    outside = [u for u in (f"u{i}" for i in range(200)) if assigner.variant(u) is None]
    for unit in outside[:20]:
        got = vault.get(PROMPT, unit_id=unit)
        assert got.experiment is None and got.version == 1
    assert sum(vault.experiments.report("tone").exposures.values()) == 0


def test_bad_unit_id_is_invalid_input(vault: Vault) -> None:
    make(vault)
    with pytest.raises(InvalidInputError):
        vault.get(PROMPT, unit_id=42)  # type: ignore[arg-type]


def test_start_and_stop_are_seen_within_the_label_ttl(vault: Vault, clock: FakeClock) -> None:
    assert vault.get(PROMPT, unit_id="u1").experiment is None  # caches "no experiment"
    make(vault)  # started through this Vault: its cache is dropped at once
    assert vault.get(PROMPT, unit_id="u1").experiment == "tone"
    # A change made by another process shows up once the label TTL has passed.
    other = Vault(vault.settings)
    try:
        other.experiments.stop("tone")
    finally:
        other.close()
    assert vault.get(PROMPT, unit_id="u1").experiment == "tone"
    clock.advance(vault.settings.label_ttl + 0.1)
    assert vault.get(PROMPT, unit_id="u1").experiment is None


def test_outcomes_for_units_never_exposed_are_rejected_and_counted(vault: Vault) -> None:
    make(vault)
    result = vault.experiments.ingest(
        [
            {"type": "exposure", "experiment": "tone", "unit_id": "a"},
            {
                "type": "outcome",
                "experiment": "tone",
                "unit_id": "a",
                "metric": "resolved",
                "value": 1,
            },
            {
                "type": "outcome",
                "experiment": "tone",
                "unit_id": "ghost",
                "metric": "resolved",
                "value": 1,
            },
            {
                "type": "outcome",
                "experiment": "tone",
                "unit_id": "a",
                "metric": "resolved",
                "value": 0.5,
            },
            {"type": "outcome", "experiment": "tone", "unit_id": "a", "metric": "nope", "value": 1},
            {"type": "exposure", "experiment": "tone", "unit_id": "b", "variant": "zzz"},
            {"type": "exposure", "experiment": "missing", "unit_id": "a"},
        ]
    )
    assert result.accepted == 2
    assert result.rejected == {
        "not_exposed": 1,
        "invalid_value": 1,
        "unknown_metric": 1,
        "unknown_variant": 1,
        "unknown_experiment": 1,
    }
    vault.experiments.record_outcome("tone", "ghost-2", "resolved", 1)
    report = vault.experiments.report("tone")
    assert report.rejected == {
        "not_exposed": 2,
        "invalid_value": 1,
        "unknown_metric": 1,
        "unknown_variant": 1,
    }
    resolved = report.analysis["metrics"][0]
    assert sum(v["n"] for v in resolved["variants"]) == 1


def test_a_retried_batch_is_not_counted_twice(vault: Vault) -> None:
    make(vault)
    events = [{"type": "exposure", "experiment": "tone", "unit_id": f"u{i}"} for i in range(10)]
    events += [
        {
            "type": "outcome",
            "experiment": "tone",
            "unit_id": f"u{i}",
            "metric": "resolved",
            "value": i % 2,
        }
        for i in range(10)
    ]
    first = vault.experiments.ingest(events, key="batch-1")
    again = vault.experiments.ingest(events, key="batch-1")
    assert (first.accepted, first.duplicate) == (20, False)
    assert (again.accepted, again.duplicate, again.key) == (20, True, "batch-1")
    totals = vault.experiments.stored_totals("tone")
    assert sum(n for (_, m), (n, _, _) in totals.items() if m == "resolved") == 10
    assert sum(n for (_, m), (n, _, _) in totals.items() if m == "$exposures") == 10
    third = vault.experiments.ingest(events[:1], key="batch-2")
    assert third.accepted == 1 and not third.duplicate


def test_draft_experiments_take_no_events(vault: Vault) -> None:
    make(vault, start=False)
    result = vault.experiments.ingest([{"type": "exposure", "experiment": "tone", "unit_id": "a"}])
    assert result.rejected == {"not_running": 1}


def test_malformed_events_name_the_field(vault: Vault) -> None:
    with pytest.raises(InvalidInputError) as err:
        vault.experiments.ingest([{"type": "exposure", "experiment": "tone"}, {"type": "click"}])
    assert err.value.details["field"].startswith("events[1]")


def test_sufficient_statistics_equal_a_recompute_from_raw_events(vault: Vault) -> None:
    make(vault)
    rng = random.Random(7)
    start = datetime(2024, 5, 1, 12, tzinfo=UTC)
    events: list[dict[str, object]] = []
    for i in range(300):
        unit = f"u{i}"
        at = (start + timedelta(hours=rng.randrange(72))).isoformat()
        events.append({"type": "exposure", "experiment": "tone", "unit_id": unit, "at": at})
        events.append(
            {
                "type": "outcome",
                "experiment": "tone",
                "unit_id": unit,
                "metric": "resolved",
                "value": rng.random() < 0.4,
                "at": at,
            }
        )
        for _ in range(rng.randrange(3)):
            events.append(
                {
                    "type": "outcome",
                    "experiment": "tone",
                    "unit_id": unit,
                    "metric": "rating",
                    "value": round(rng.gauss(4, 1), 3),
                    "at": at,
                }
            )
    for chunk in range(0, len(events), 97):  # batches that split units across them
        vault.experiments.ingest(events[chunk : chunk + 97])
    stored = vault.experiments.stored_totals("tone")
    raw = vault.experiments.recompute("tone")
    assert set(stored) == set(raw)
    for key, (n, s, sq) in raw.items():
        assert stored[key][0] == n
        assert stored[key][1] == pytest.approx(s, rel=1e-12, abs=1e-9)
        assert stored[key][2] == pytest.approx(sq, rel=1e-12, abs=1e-9)
    report = vault.experiments.report("tone")
    days = {p["day"] for p in report.timeline["resolved"]}
    assert days == {"2024-05-01", "2024-05-02", "2024-05-03", "2024-05-04"}
    last = [p for p in report.timeline["resolved"] if p["day"] == "2024-05-04"]
    by_variant = {p["variant"]: p for p in last}
    metric = report.analysis["metrics"][0]
    for v in metric["variants"]:
        assert by_variant[v["variant"]]["n"] == v["n"]
        assert by_variant[v["variant"]]["mean"] == pytest.approx(v["mean"])


def test_buffered_outcomes_are_written_on_close(database_url: str, vault: Vault) -> None:
    make(vault)
    vault.get(PROMPT, unit_id="u1")
    vault.experiments.record_outcome("tone", "u1", "rating", 4.5)
    settings = vault.settings
    vault.close()
    again = Vault(settings)
    try:
        totals = again.experiments.stored_totals("tone")
    finally:
        again.close()
    assert sum(n for (_, m), (n, _, _) in totals.items() if m == "rating") == 1


def test_unit_ids_with_special_characters_round_trip(vault: Vault) -> None:
    make(vault)
    units = ["tab\there", "new\nline", "back\\slash", "cr\rret", "ünï→cødé", "\\N", "q'\""]
    events: list[dict[str, object]] = [
        {"type": "exposure", "experiment": "tone", "unit_id": u} for u in units
    ]
    first = vault.experiments.ingest(events)
    outcomes = [
        {"type": "outcome", "experiment": "tone", "unit_id": u, "metric": "rating", "value": 2.5}
        for u in units
    ]
    second = vault.experiments.ingest(outcomes)  # a later batch finds every stored unit
    assert (first.accepted, second.accepted, second.rejected) == (7, 7, {})
    assert vault.experiments.recompute("tone") == {
        k: v for k, v in vault.experiments.stored_totals("tone").items()
    }


def test_buffer_keeps_events_when_a_write_fails_and_counts_losses_at_close() -> None:
    from promptvault.experiments.buffer import EventBuffer
    from promptvault.experiments.models import Event

    written: list[list[Event]] = []
    failing = [True]

    def sink(events: list[Event]) -> None:
        if failing[0]:
            raise RuntimeError("database down")
        written.append(events)

    buffer = EventBuffer(sink, size=100, interval=60, limit=3)
    for i in range(5):
        buffer.add(("outcome", "tone", f"u{i}", None, "rating", 1.0, None))
    with pytest.raises(RuntimeError):
        buffer.flush()
    assert len(buffer) == 3 and buffer.dropped == 2  # kept up to the limit, oldest dropped
    failing[0] = False
    assert buffer.flush() == 3
    assert [e.unit_id for e in written[0]] == ["u2", "u3", "u4"]
    failing[0] = True
    buffer.add(("exposure", "tone", "u9", None, None, None, None))
    buffer.close()  # logs and counts instead of raising
    assert buffer.dropped == 3 and len(buffer) == 0
