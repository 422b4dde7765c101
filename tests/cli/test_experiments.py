"""``promptvault experiment ...`` through the real app, locally and against a server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app


def _prompt(cli: Any) -> None:
    result = cli("demo")
    assert result.exit_code == 0, result.stderr


CREATE = (
    "experiment", "create", "tone", "-p", "customer_support",
    "-v", "control=1:90", "-v", "friendly=staging:10",
    "-m", "resolved:binary", "-g", "escalated:binary:lower:0.05", "--also", "rating:continuous",
)  # fmt: skip


def test_lifecycle_commands(cli: Any, home: Path) -> None:
    _prompt(cli)
    created = cli(*CREATE, "--json")
    assert created.exit_code == 0, created.stderr
    data = json.loads(created.stdout)
    assert data["status"] == "draft" and data["variants"][1]["version"] == 2
    assert data["guardrails"][0] == {
        "name": "escalated",
        "kind": "binary",
        "direction": "lower",
        "tolerance": 0.05,
    }
    assert cli("experiment", "start", "tone").exit_code == 1  # support-tone runs on the label
    assert "already running" in cli("experiment", "start", "tone").stderr
    assert cli("experiment", "stop", "support-tone", "--reason", "make room").exit_code == 0
    assert cli("experiment", "start", "tone").stdout == "tone: started (running)\n"
    ramped = cli("experiment", "ramp", "tone", "control=50", "friendly=50")
    assert ramped.stdout == "tone: weights now control=50, friendly=50\n"
    listed = json.loads(cli("experiment", "list", "--status", "running", "--json").stdout)
    assert [e["name"] for e in listed] == ["tone"]
    table = cli("experiment", "list").stdout.splitlines()
    assert table[0].split() == ["EXPERIMENT", "PROMPT", "STATUS", "VARIANTS", "METRIC", "STARTED"]
    assert {line.split()[0] for line in table[1:]} == {"tone", "support-tone"}
    checked = json.loads(cli("experiment", "check", "--json").stdout)
    assert [(c["experiment"], c["stopped"]) for c in checked] == [("tone", False)]
    done = cli("experiment", "conclude", "tone", "--winner", "friendly")
    assert done.stdout == (
        "tone: concluded, customer_support@production now points at v2 (friendly)\n"
    )
    assert json.loads(cli("show", "customer_support", "--json").stdout)["version"] == 2
    audit = cli("audit", "log", "--action", "experiment.", "--json")
    actions = [e["action"] for e in json.loads(audit.stdout)]
    assert actions.count("experiment.conclude") == 1 and "experiment.ramp" in actions


def test_demo_report_table_json_and_plot(cli: Any, tmp_path: Path) -> None:
    _prompt(cli)
    report = cli("experiment", "report", "support-tone")
    assert report.exit_code == 0, report.stderr
    lines = report.stdout.splitlines()
    assert lines[0] == (
        "support-tone: customer_support@production, running; sequential analysis (alpha 0.05)"
    )
    assert lines[1].startswith("sample ratio: control ") and lines[1].endswith(" ok")
    assert "resolved (binary, higher is better)" in lines
    friendly = next(line for line in lines if line.startswith("friendly"))
    data = json.loads(cli("experiment", "report", "support-tone", "--json", "--mode",
                          "fixed").stdout)  # fmt: skip
    assert data["mode"] == "fixed" and data["analysis"]["mode"] == "fixed"
    assert sum(data["units"].values()) == 4000
    # Every demo user has one "resolved" outcome: the table's n is the friendly units.
    assert friendly.split()[1] == str(data["units"]["friendly"])
    shares = data["analysis"]["srm"]["observed"]
    assert 0.88 < shares[0] / sum(shares) < 0.92  # the 90/10 split
    assert [m["name"] for m in data["analysis"]["metrics"]] == ["resolved", "escalated", "rating"]
    assert len({p["day"] for p in data["timeline"]["resolved"]}) >= 7
    png = tmp_path / "plot.png"
    plotted = cli("experiment", "report", "support-tone", "--plot", str(png))
    assert plotted.exit_code == 0, plotted.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    again = cli("demo", "--json")  # loading twice changes nothing
    results = {r["name"]: r["result"] for r in json.loads(again.stdout)}
    assert results["support-tone"] == "experiment exists, left as it is"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-v", "control"), "NAME=VERSION"),
        (("-v", "a=1:x"), "is not a number"),
        (("-v", "a=1", "-v", "b=7"), "has no version 7"),
        (("-v", "a=1", "-v", "b=\u00b2"), "must be a whole number written in digits 0-9"),
    ],
)
def test_bad_input_is_reported(cli: Any, args: tuple[str, ...], message: str) -> None:
    _prompt(cli)
    result = cli("experiment", "create", "x", "-p", "customer_support", "-m", "ok", *args)
    assert result.exit_code == 1 and message in result.stderr
    assert cli("experiment", "report", "nope").stderr.startswith("error: no experiment named")


@pytest.fixture
def server(sqlite_url: str) -> Iterator[tuple[str, str, Vault]]:
    vault = Vault(Settings(database_url=sqlite_url))
    app = create_app(vault)
    key = app.state.keys.create("ci-key", "admin", actor="setup")[0]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", key, vault
    finally:
        srv.should_exit = True
        thread.join(10)
        vault.close()


def test_commands_work_through_a_server(
    cli: Any, server: tuple[str, str, Vault], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, key, vault = server
    monkeypatch.setenv("PROMPTVAULT_URL", url)
    monkeypatch.setenv("PROMPTVAULT_API_KEY", key)
    demo = cli("demo")
    assert demo.exit_code == 0, demo.stderr
    assert vault.experiments.get("support-tone").created_by == "ci-key"
    report = json.loads(cli("experiment", "report", "support-tone", "--json").stdout)
    assert sum(report["units"].values()) == 4000
    assert cli("experiment", "ramp", "support-tone", "control=50", "friendly=50").exit_code == 0
    assert [v.weight for v in vault.experiments.get("support-tone").variants] == [50.0, 50.0]
    done = cli("experiment", "conclude", "support-tone", "-w", "friendly")
    assert done.exit_code == 0, done.stderr
    assert vault.get("customer_support").version == 2


def _create_start_twice(cli: Any) -> None:
    # support-tone (from the demo) runs on customer_support@production: the start fails.
    for _ in range(2):
        failed = cli(*CREATE, "--start")
        assert failed.exit_code == 1
        assert "already running" in failed.stderr and "already exists" not in failed.stderr
    assert cli("experiment", "show", "tone").exit_code == 1  # no draft was left behind
    assert cli("experiment", "stop", "support-tone").exit_code == 0
    started = cli(*CREATE, "--start", "--json")
    assert started.exit_code == 0, started.stderr
    assert json.loads(started.stdout)["status"] == "running"


def test_create_with_start_leaves_nothing_when_the_start_fails(cli: Any, home: Path) -> None:
    _prompt(cli)
    _create_start_twice(cli)


def test_create_with_start_is_atomic_through_a_server(
    cli: Any, server: tuple[str, str, Vault], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, key, vault = server
    monkeypatch.setenv("PROMPTVAULT_URL", url)
    monkeypatch.setenv("PROMPTVAULT_API_KEY", key)
    _prompt(cli)
    _create_start_twice(cli)
    assert vault.experiments.get("tone").started_by == "ci-key"


def test_a_bandit_through_a_server_reallocates_and_shows_its_weights(
    cli: Any, server: tuple[str, str, Vault], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, key, vault = server
    monkeypatch.setenv("PROMPTVAULT_URL", url)
    monkeypatch.setenv("PROMPTVAULT_API_KEY", key)
    assert cli("demo").exit_code == 0
    assert cli("experiment", "stop", "support-tone").exit_code == 0
    made = cli(*CREATE, "--bandit", "--floor", "0.1", "--start", "--json")
    assert made.exit_code == 0, made.stderr
    assert json.loads(made.stdout)["allocation"] == "bandit"
    units = [f"u{i}" for i in range(300)]
    assigner = vault.experiments.get("tone").assigner()
    vault.experiments.ingest(
        [{"type": "exposure", "experiment": "tone", "unit_id": u} for u in units]
        + [
            {"type": "outcome", "experiment": "tone", "unit_id": u, "metric": "resolved",
             "value": assigner.variant(u) == "friendly"}
            for u in units
        ]
    )  # fmt: skip
    moved = cli("experiment", "reallocate", "tone")
    assert moved.exit_code == 0, moved.stderr
    assert "friendly=0.9" in moved.stdout
    shown = cli("experiment", "weights", "tone")
    assert shown.exit_code == 0, shown.stderr
    assert "bandit" in shown.stdout and "90.0%" in shown.stdout and "regret" in shown.stdout
    data = json.loads(cli("experiment", "weights", "tone", "--json").stdout)
    assert [p["reason"] for p in data["phases"]] == ["create", "bandit"]
    assert data["regret"]["saved"] is not None
