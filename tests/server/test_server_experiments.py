"""Experiments over HTTP on SQLite and PostgreSQL: lifecycle, events, reports, errors."""

from __future__ import annotations

from starlette.testclient import TestClient

from promptvault import Vault

from .conftest import bearer

CREATE = {
    "name": "tone",
    "prompt": "support",
    "variants": [
        {"name": "control", "version": 1, "weight": 90},
        {"name": "friendly", "version": "staging", "weight": 10},
    ],
    "primary_metric": {"name": "resolved", "kind": "binary"},
    "guardrails": [{"name": "escalated", "kind": "binary", "direction": "lower"}],
}


def _seed(vault: Vault) -> None:
    vault.push("support", template="Hello {{name}}", author="seed")
    vault.push("support", template="Hi {{name}}", author="seed", labels=["staging"])


def test_lifecycle_over_http(vault: Vault, client: TestClient, keys: dict[str, str]) -> None:
    _seed(vault)
    editor, admin = bearer(keys["editor"]), bearer(keys["admin"])
    # An experiment decides what its label serves: on production that takes admin.
    refused = client.post("/v1/experiments", json=CREATE, headers=editor)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "label_protected"
    created = client.post("/v1/experiments", json=CREATE, headers=admin)
    assert created.status_code == 201
    assert created.json()["variants"][1]["version"] == 2
    assert created.json()["created_by"] == "admin-key"
    again = client.post("/v1/experiments", json=CREATE, headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    started = client.post("/v1/experiments/tone/start", headers=admin)
    assert started.json()["status"] == "running"
    assert started.json()["started_by"] == "admin-key"
    assert started.json()["label_version"] == 1
    twice = client.post("/v1/experiments/tone/start", headers=admin)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "experiment_state"
    running = client.get(
        "/v1/experiments/running", params={"prompt": "support"}, headers=bearer(keys["runtime"])
    )
    assert [e["name"] for e in running.json()] == ["tone"]
    ramped = client.post(
        "/v1/experiments/tone/ramp",
        json={"weights": {"control": 50, "friendly": 50}},
        headers=admin,
    )
    assert [v["weight"] for v in ramped.json()["variants"]] == [50.0, 50.0]
    denied = client.post(
        "/v1/experiments/tone/conclude", json={"winner": "friendly"}, headers=editor
    )
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "label_protected"
    assert vault.experiments.get("tone").status == "running"
    done = client.post("/v1/experiments/tone/conclude", json={"winner": "friendly"}, headers=admin)
    assert done.json()["status"] == "concluded"
    assert vault.get("support").version == 2
    actors = {e.action: e.actor for e in vault.audit.entries(target="experiment:tone")}
    assert actors["experiment.create"] == "admin-key"
    assert actors["experiment.conclude"] == "admin-key"
    listed = client.get("/v1/experiments", params={"status": "concluded"}, headers=editor)
    assert [e["name"] for e in listed.json()["items"]] == ["tone"]


def test_editor_concludes_on_an_unprotected_label(
    vault: Vault, client: TestClient, keys: dict[str, str]
) -> None:
    _seed(vault)
    vault.set_label("support", "canary", 1)  # control serves what the label serves
    editor = bearer(keys["editor"])
    body = {**CREATE, "label": "canary"}
    assert client.post("/v1/experiments", json=body, headers=editor).status_code == 201
    client.post("/v1/experiments/tone/start", headers=editor)
    done = client.post("/v1/experiments/tone/conclude", json={"winner": "friendly"}, headers=editor)
    assert done.status_code == 200
    assert vault.labels("support")["canary"] == 2


def test_events_are_idempotent_and_reported(
    vault: Vault, client: TestClient, keys: dict[str, str]
) -> None:
    _seed(vault)
    vault.experiments.create("tone", **{k: v for k, v in CREATE.items() if k != "name"})
    vault.experiments.start("tone")
    runtime = bearer(keys["runtime"])
    events = [{"type": "exposure", "experiment": "tone", "unit_id": f"u{i}"} for i in range(50)]
    events += [
        {
            "type": "outcome",
            "experiment": "tone",
            "unit_id": f"u{i}",
            "metric": "resolved",
            "value": i % 3 == 0,
        }
        for i in range(50)
    ]
    events.append(
        {
            "type": "outcome",
            "experiment": "tone",
            "unit_id": "ghost",
            "metric": "resolved",
            "value": 1,
        }
    )
    headers = {**runtime, "Idempotency-Key": "b-1"}
    first = client.post("/v1/events", json={"events": events}, headers=headers)
    assert first.status_code == 200
    assert first.json() == {
        "key": "b-1",
        "accepted": 100,
        "rejected": {"not_exposed": 1},
        "duplicate": False,
    }
    retry = client.post("/v1/events", json={"events": events}, headers=headers)
    assert retry.json()["duplicate"] is True and retry.json()["accepted"] == 100
    report = client.get("/v1/experiments/tone/report", headers=bearer(keys["viewer"]))
    assert report.status_code == 200
    data = report.json()
    assert data["mode"] == "sequential" and data["analysis"]["mode"] == "sequential"
    assert sum(data["units"].values()) == 50
    assert data["rejected"] == {"not_exposed": 1}
    resolved = data["analysis"]["metrics"][0]
    assert sum(v["n"] for v in resolved["variants"]) == 50
    assert sum(v["mean"] * v["n"] for v in resolved["variants"]) == 17
    fixed = client.get(
        "/v1/experiments/tone/report", params={"mode": "fixed"}, headers=bearer(keys["viewer"])
    )
    assert fixed.json()["analysis"]["mode"] == "fixed"
    checked = client.post("/v1/experiments/tone/check", headers=bearer(keys["admin"]))
    assert checked.json()["status"] == "running" and checked.json()["stopped"] is False


def test_bad_requests_name_the_field(
    vault: Vault, client: TestClient, keys: dict[str, str]
) -> None:
    _seed(vault)
    admin = bearer(keys["admin"])
    bad = client.post("/v1/experiments", json={**CREATE, "coverage": 2}, headers=admin)
    assert bad.status_code == 422 and "coverage" in str(bad.json()["error"]["details"])
    version = client.post(
        "/v1/experiments",
        json={**CREATE, "variants": [{"name": "a", "version": 1}, {"name": "b", "version": 7}]},
        headers=admin,
    )
    assert version.status_code == 404
    assert version.json()["error"]["details"]["field"] == "variants[1].version"
    missing = client.get("/v1/experiments/nope", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "experiment_not_found"
    events = client.post(
        "/v1/events",
        json={"events": [{"type": "click", "experiment": "x"}]},
        headers=bearer(keys["runtime"]),
    )
    assert events.status_code == 422
