"""Experiments over HTTP cannot be steered from outside: the server assigns units itself,
labels under a running experiment stay put, and create+start is one transaction."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from promptvault import Vault

from .conftest import bearer

CREATE = {
    "name": "tone",
    "prompt": "support",
    "variants": [
        {"name": "control", "version": 1, "weight": 50},
        {"name": "friendly", "version": 2, "weight": 50},
    ],
    "primary_metric": {"name": "resolved", "kind": "binary"},
}


def _running(vault: Vault) -> None:
    vault.push("support", template="Hello {{name}}", author="seed")
    vault.push("support", template="Hi {{name}}", author="seed")
    vault.set_label("support", "production", 2, actor="seed")
    vault.set_label("support", "production", 1, actor="seed")
    body = {k: v for k, v in CREATE.items() if k != "name"}
    vault.experiments.create("tone", **body, actor="owner", start=True)
    vault.experiments.check_every = 10**9  # only the explicit checks below


def _rejected_metric(client: TestClient, reason: str) -> int:
    text = client.get("/metrics").text
    found = re.search(
        rf'^promptvault_experiment_events_rejected_total\{{reason="{reason}"\}} (\d+)$',
        text,
        re.MULTILINE,
    )
    return int(found.group(1)) if found else 0


def test_exposures_naming_the_wrong_variant_are_refused_and_counted(
    vault: Vault, client: TestClient, keys: dict[str, str]
) -> None:
    _running(vault)
    runtime = bearer(keys["runtime"])
    assigner = vault.experiments.get("tone").assigner()
    units = [f"u{i}" for i in range(2000)]
    # Every unit claimed for "friendly": half of them are control's, which would skew the
    # split to 100/0 and have the split check stop the experiment.
    forged = [
        {"type": "exposure", "experiment": "tone", "unit_id": u, "variant": "friendly"}
        for u in units
    ]
    answer = client.post("/v1/events", json={"events": forged}, headers=runtime)
    assert answer.status_code == 200
    mismatched = sum(assigner.variant(u) != "friendly" for u in units)
    assert mismatched > 800
    assert answer.json()["accepted"] == 2000 - mismatched
    assert answer.json()["rejected"] == {"variant_mismatch": mismatched}
    # A unit already counted may name its own variant again; a different one is refused.
    mine = next(u for u in units if assigner.variant(u) == "friendly")
    again = [
        {"type": "exposure", "experiment": "tone", "unit_id": mine, "variant": "friendly"},
        {"type": "exposure", "experiment": "tone", "unit_id": mine, "variant": "control"},
    ]
    second = client.post("/v1/events", json={"events": again}, headers=runtime).json()
    assert second["accepted"] == 1 and second["rejected"] == {"variant_mismatch": 1}
    # Unit-less exposures cannot be checked, and never count in the split check.
    unitless = [{"type": "exposure", "experiment": "tone", "variant": "friendly"}] * 5000
    client.post("/v1/events", json={"events": unitless}, headers=runtime)
    admin = bearer(keys["admin"])
    checked = client.post("/v1/experiments/tone/check", headers=admin).json()
    # The accepted units are all friendly (the refused ones were control's): a split the
    # sender made, so the check reports it and leaves stopping to a person.
    assert checked["stopped"] is False and checked["status"] == "running"
    assert checked["srm_p_value"] < 0.001 and "not acted on" in checked["notes"][0]
    report = client.get("/v1/experiments/tone/report", headers=bearer(keys["viewer"])).json()
    assert report["rejected"] == {"variant_mismatch": mismatched + 1}
    assert report["units"]["control"] == 0 and report["random_exposures"]["friendly"] == 5000
    assert _rejected_metric(client, "variant_mismatch") == mismatched + 1
    # A unit-less exposure naming a variant nobody can be assigned to is refused too.
    client.post(
        "/v1/experiments/tone/ramp", json={"weights": {"friendly": 0}}, headers=admin
    ).raise_for_status()
    zero = client.post("/v1/events", json={"events": unitless[:3]}, headers=runtime).json()
    assert zero["rejected"] == {"variant_mismatch": 3}


def test_moving_a_label_under_a_running_experiment_is_refused(
    vault: Vault, client: TestClient, keys: dict[str, str]
) -> None:
    _running(vault)
    admin = bearer(keys["admin"])
    calls = [
        ("PUT", "/v1/prompts/support/labels/production", {"version": 2}),
        ("POST", "/v1/prompts/support/labels/production/rollback", None),
        ("DELETE", "/v1/prompts/support/labels/production", None),
        (
            "POST",
            "/v1/prompts/support/versions",
            {"template": "Yo {{name}}", "labels": ["production"]},
        ),
    ]
    for method, path, body in calls:
        answer = client.request(method, path, json=body, headers=admin)
        assert answer.status_code == 409, (path, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "experiment_state" and error["details"]["experiment"] == "tone"
        assert "stop or conclude" in error["message"]
    assert vault.labels("support")["production"] == 1
    assert len(vault.versions("support")) == 2
    # Concluding moves the label (the experiment's own move), in one transaction.
    done = client.post("/v1/experiments/tone/conclude", json={"winner": "friendly"}, headers=admin)
    assert done.status_code == 200 and vault.labels("support")["production"] == 2


def test_the_ui_confirmation_says_the_move_is_refused(
    vault: Vault, client: TestClient, keys: dict[str, str]
) -> None:
    _running(vault)
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    client.post(
        "/login",
        data={"api_key": keys["admin"], "csrf": token.group(1), "next": "/"},
        follow_redirects=False,
    )
    for confirm in (
        client.get("/promote/support", params={"label": "production", "version": "2"}),
        client.get("/rollback/support", params={"label": "production"}),
    ):
        assert confirm.status_code == 200
        assert 'id="experiment-running"' in confirm.text
        assert "Stop or conclude the experiment first" in confirm.text
        assert 'href="/experiments/tone"' in confirm.text
        assert "after this it serves" not in confirm.text
        assert 'action="/promote/support"' not in confirm.text
        assert 'action="/rollback/support"' not in confirm.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert csrf
    forced = client.post(
        "/promote/support", data={"label": "production", "version": "2", "csrf": csrf.group(1)}
    )
    assert forced.status_code == 409 and "stop or conclude" in forced.text
    assert vault.labels("support")["production"] == 1
    # Other labels of the prompt still move, with the usual confirmation.
    other = client.get("/promote/support", params={"label": "staging", "version": "2"})
    assert "after this it serves" in other.text and 'id="experiment-running"' not in other.text


def test_create_and_start_in_one_request(
    vault: Vault, client: TestClient, keys: dict[str, str]
) -> None:
    _running(vault)
    admin = bearer(keys["admin"])
    body = {**CREATE, "name": "second", "start": True}
    for _ in range(2):  # the start fails (tone runs on the label): nothing is left behind
        answer = client.post("/v1/experiments", json=body, headers=admin)
        assert answer.status_code == 409
        assert answer.json()["error"]["code"] == "experiment_state"
    assert client.get("/v1/experiments/second", headers=admin).status_code == 404
    client.post("/v1/experiments/tone/stop", headers=admin).raise_for_status()
    started = client.post("/v1/experiments", json=body, headers=admin)
    assert started.status_code == 201 and started.json()["status"] == "running"
    assert started.json()["started_by"] == "admin-key"
