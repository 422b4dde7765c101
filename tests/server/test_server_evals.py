"""Evaluations over HTTP: providers without secrets, runs, comparison, gated promotion."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from evals.model_stub import ModelStub
from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app

from .conftest import ROLES, bearer


@pytest.fixture
def world(sqlite_url: str) -> Iterator[tuple[Vault, FastAPI, dict[str, str], ModelStub]]:
    with ModelStub() as stub:
        vault = Vault(Settings(database_url=sqlite_url, secret_key="k"))
        vault.push(
            "qa", template=[{"role": "user", "content": "Answer {{q}}"}], config={"model": "m"}
        )
        vault.evals.create_dataset(
            "d",
            cases=[
                {"key": f"c{i}", "variables": {"q": str(i)}, "expected": f"Answer {i}"}
                for i in range(8)
            ],
            evaluators=[{"type": "exact"}],
        )
        app = create_app(vault)
        keys = {r: app.state.keys.create(f"{r}-key", r, actor="setup")[0] for r in ROLES}
        yield vault, app, keys, stub
        vault.close()


def test_provider_secret_is_write_only(
    world: tuple[Vault, FastAPI, dict[str, str], ModelStub],
) -> None:
    vault, app, keys, stub = world
    with TestClient(app) as client:
        put = client.put(
            "/v1/evals/providers/stub",
            json={"kind": "openai", "base_url": stub.url, "api_key": "sk-very-secret"},
            headers=bearer(keys["admin"]),
        )
        assert put.status_code == 200 and put.json()["has_secret"] is True
        listed = client.get("/v1/evals/providers", headers=bearer(keys["viewer"]))
        assert "sk-very-secret" not in put.text + listed.text
        assert "api_key" not in listed.json()["items"][0]
    keyless = create_app(Vault(vault.settings.model_copy(update={"secret_key": None})))
    with TestClient(keyless) as client:
        refused = client.put(
            "/v1/evals/providers/other",
            json={"kind": "openai", "api_key": "sk"},
            headers=bearer(keys["admin"]),
        )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "secret_key_missing"


def test_run_compare_and_gate_over_http(
    world: tuple[Vault, FastAPI, dict[str, str], ModelStub],
) -> None:
    vault, app, keys, stub = world
    vault.evals.set_provider("stub", kind="openai", base_url=stub.url)
    editor, admin = bearer(keys["editor"]), bearer(keys["admin"])
    with TestClient(app) as client:
        run = client.post(
            "/v1/evals/runs", json={"dataset": "d", "prompt": "qa@production"}, headers=editor
        )
        assert run.status_code == 201, run.text
        body = run.json()
        assert body["status"] == "finished" and len(body["results"]) == 8
        assert body["summary"]["evaluators"]["exact"]["mean"] == 1.0
        assert client.get(f"/v1/evals/runs/{body['id']}", headers=editor).json()["id"] == body["id"]
        compared = client.get(
            f"/v1/evals/compare?a={body['id']}&b={body['id']}", headers=editor
        ).json()
        assert compared["evaluators"][0]["verdict"] == "no significant difference"

        gate = client.put(
            "/v1/evals/gates",
            json={
                "prompt": "qa",
                "label": "production",
                "dataset": "d",
                "thresholds": {"exact": 0.9},
            },
            headers=admin,
        )
        assert gate.status_code == 200
        vault.push("qa", template=[{"role": "user", "content": "Say {{q}}"}], config={"model": "m"})
        refused = client.put("/v1/prompts/qa/labels/production", json={"version": 2}, headers=admin)
        assert refused.status_code == 409
        error = refused.json()["error"]
        assert error["code"] == "eval_gate_failed" and error["details"]["version"] == 2
        not_admin = client.put(
            "/v1/prompts/qa/labels/production",
            json={"version": 2, "override_gate": True},
            headers=editor,
        )
        assert not_admin.status_code == 403
        forced = client.put(
            "/v1/prompts/qa/labels/production",
            json={"version": 2, "override_gate": True},
            headers=admin,
        )
        assert forced.status_code == 200
    assert vault.labels("qa")["production"] == 2
    assert any(
        e.action == "gate.override" and e.actor == "admin-key" for e in vault.audit.entries()
    )
