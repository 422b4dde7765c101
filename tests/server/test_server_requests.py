"""Four-eyes approval over HTTP: requests, approval by another person, comments, audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Vault, dict[str, TestClient]]]:
    vault = Vault(
        Settings(database_url=f"sqlite:///{tmp_path / 'v.db'}", approval_labels=["production"])
    )
    vault.push("faq", template="one", author="setup")
    vault.push("faq", template="two", author="setup")
    app = create_app(vault)
    clients = {}
    for name, role in (("ed", "editor"), ("alice", "admin"), ("bob", "admin"), ("vi", "viewer")):
        key = app.state.keys.create(name, role, actor="setup")[0]
        clients[name] = TestClient(app, headers={"Authorization": f"Bearer {key}"})
    yield vault, clients
    vault.close()


def test_a_move_needs_a_request_and_another_person_approves_it(
    world: tuple[Vault, dict[str, TestClient]],
) -> None:
    vault, c = world
    direct = c["alice"].put("/v1/prompts/faq/labels/production", json={"version": 2})
    assert direct.status_code == 409 and direct.json()["error"]["code"] == "approval_required"
    pushed = c["alice"].post(
        "/v1/prompts/faq/versions", json={"template": "three", "labels": ["production"]}
    )
    assert pushed.status_code == 409
    assert c["ed"].put("/v1/prompts/faq/labels/staging", json={"version": 2}).status_code == 200
    made = c["ed"].post(
        "/v1/requests",
        json={"prompt": "faq", "label": "production", "version": 2, "comment": "ship v2"},
    )
    assert made.status_code == 201, made.text
    request = made.json()
    assert (request["from_version"], request["to_version"], request["status"]) == (1, 2, "open")
    assert vault.labels("faq")["production"] == 1  # nothing moved yet
    listed = c["vi"].get("/v1/requests?status=open").json()["items"]
    assert [r["id"] for r in listed] == [request["id"]]
    assert c["ed"].post(f"/v1/requests/{request['id']}/approve").status_code == 403
    assert c["vi"].post(f"/v1/requests/{request['id']}/reject").status_code == 403
    approved = c["bob"].post(
        f"/v1/requests/{request['id']}/approve", json={"comment": "diff read, fine"}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["decided_by"] == "bob"
    assert vault.labels("faq")["production"] == 2
    again = c["alice"].post(f"/v1/requests/{request['id']}/reject")
    assert again.status_code == 409 and again.json()["error"]["code"] == "request_state"
    entries = vault.audit.entries(target="prompt:faq")
    actions = [e.action for e in entries]
    assert "request.create" in actions and "request.approve" in actions
    moved = next(e for e in entries if e.action == "label.set" and e.actor == "bob")
    assert moved.details.get("cause", moved.details).get("requested_by") == "ed"


def test_self_approval_is_refused_and_a_stale_request_cannot_be_approved(
    world: tuple[Vault, dict[str, TestClient]],
) -> None:
    vault, c = world
    mine = (
        c["alice"]
        .post("/v1/requests", json={"prompt": "faq", "label": "production", "version": 2})
        .json()
    )
    own = c["alice"].post(f"/v1/requests/{mine['id']}/approve")
    assert own.status_code == 403 and own.json()["error"]["code"] == "self_approval"
    assert vault.labels("faq")["production"] == 1
    other = (
        c["ed"]
        .post("/v1/requests", json={"prompt": "faq", "label": "production", "version": 2})
        .json()
    )
    assert c["bob"].post(f"/v1/requests/{mine['id']}/approve").status_code == 200
    stale = c["alice"].post(f"/v1/requests/{other['id']}/approve")
    assert stale.status_code == 409 and "moved to version 2" in stale.json()["error"]["message"]
    rejected = c["alice"].post(f"/v1/requests/{other['id']}/reject", json={"comment": "stale"})
    assert rejected.json()["status"] == "rejected"
    nothing = c["ed"].post(
        "/v1/requests", json={"prompt": "faq", "label": "production", "version": 2}
    )
    assert nothing.status_code == 409  # already there
    missing = c["ed"].post("/v1/requests", json={"prompt": "faq", "label": "x", "version": 9})
    assert missing.status_code == 404


def test_comments_on_versions_and_requests(world: tuple[Vault, dict[str, TestClient]]) -> None:
    vault, c = world
    made = (
        c["ed"]
        .post("/v1/requests", json={"prompt": "faq", "label": "production", "version": 2})
        .json()
    )
    on_version = c["ed"].post(
        "/v1/comments", json={"prompt": "faq", "version": 2, "body": "shorter is better"}
    )
    assert on_version.status_code == 201
    c["bob"].post("/v1/comments", json={"prompt": "faq", "request": made["id"], "body": "ok?"})
    assert (
        c["vi"].post("/v1/comments", json={"prompt": "faq", "version": 1, "body": "x"}).status_code
        == 403
    )
    version_comments = c["vi"].get("/v1/comments?prompt=faq&version=2").json()["items"]
    assert [(x["author"], x["body"]) for x in version_comments] == [("ed", "shorter is better")]
    request_comments = c["vi"].get(f"/v1/comments?prompt=faq&request={made['id']}").json()
    assert [x["body"] for x in request_comments["items"]] == ["ok?"]
    both = c["ed"].post(
        "/v1/comments", json={"prompt": "faq", "version": 1, "request": made["id"], "body": "x"}
    )
    assert both.status_code == 422
    assert "comment.add" in [e.action for e in vault.audit.entries(target="prompt:faq")]


def test_an_eval_gate_applies_to_an_approved_move(
    world: tuple[Vault, dict[str, TestClient]],
) -> None:
    vault, c = world
    vault.evals.create_dataset(
        "faq-cases",
        evaluators=[{"name": "exact", "type": "exact"}],
        cases=[{"variables": {"q": "hi"}, "expected": "one"}],
    )
    vault.evals.set_gate("faq", "production", dataset="faq-cases", thresholds={"exact": 0.9})
    made = (
        c["ed"]
        .post("/v1/requests", json={"prompt": "faq", "label": "production", "version": 2})
        .json()
    )
    gated = c["bob"].post(f"/v1/requests/{made['id']}/approve")
    assert gated.status_code == 409 and gated.json()["error"]["code"] == "eval_gate_failed"
    assert vault.requests.get(made["id"]).status == "open"  # still waiting: run the evals
    assert vault.labels("faq")["production"] == 1


def test_concluding_an_experiment_does_not_bypass_approval(
    world: tuple[Vault, dict[str, TestClient]],
) -> None:
    vault, c = world
    body = {
        "name": "tone",
        "prompt": "faq",
        "variants": [
            {"name": "control", "version": 1, "weight": 50},
            {"name": "two", "version": 2, "weight": 50},
        ],
        "primary_metric": {"name": "resolved", "kind": "binary"},
        "start": True,
    }
    assert c["alice"].post("/v1/experiments", json=body).status_code == 201
    moved = c["alice"].post("/v1/experiments/tone/conclude", json={"winner": "two"})
    assert moved.status_code == 409 and moved.json()["error"]["code"] == "approval_required"
    assert vault.labels("faq")["production"] == 1
    assert vault.experiments.get("tone").status == "running"
    # Concluding for the version the label already serves moves nothing: allowed.
    kept = c["alice"].post("/v1/experiments/tone/conclude", json={"winner": "control"})
    assert kept.status_code == 200, kept.text
    assert vault.labels("faq")["production"] == 1
