"""Evaluations over HTTP: providers without secrets, runs, comparison, gated promotion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from evals.model_stub import ModelStub
from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app
from waiting import wait_until

from .conftest import ROLES, bearer


def finished(
    client: TestClient, run_id: str, headers: dict[str, str], status: str = "finished"
) -> dict[str, Any]:
    """The run once its status is ``status`` (polled as a client would)."""
    seen: dict[str, Any] = {}

    def reached() -> bool:
        seen.update(client.get(f"/v1/evals/runs/{run_id}", headers=headers).json())
        return seen["status"] == status

    wait_until(reached, what=f"run {run_id} to be {status}")
    return seen


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
        assert run.status_code == 202, run.text
        assert run.headers["location"] == f"/v1/evals/runs/{run.json()['id']}"
        body = finished(client, run.json()["id"], editor)
        assert len(body["results"]) == 8 and body["progress"] == {
            "done": 8,
            "total": 8,
            "errors": 0,
        }
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


def test_a_run_goes_on_in_the_background_and_a_stopping_server_interrupts_it(
    world: tuple[Vault, FastAPI, dict[str, str], ModelStub],
) -> None:
    vault, app, keys, stub = world
    vault.evals.set_provider("stub", kind="openai", base_url=stub.url)
    editor, viewer = bearer(keys["editor"]), bearer(keys["viewer"])
    stub.hang_after(3)  # three answers, then the model goes quiet
    with TestClient(app) as client:
        started = client.post(
            "/v1/evals/runs",
            json={"dataset": "d", "prompt": "qa@production", "concurrency": 1},
            headers=editor,
        )
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        assert started.json()["status"] == "running"
        assert started.json()["progress"] == {"done": 0, "total": 8, "errors": 0}

        def three_done() -> bool:
            got = client.get(f"/v1/evals/runs/{run_id}?results=false", headers=viewer).json()
            return got["progress"]["done"] == 3

        wait_until(three_done, what="three results committed")
        # Another process (here: the library on the same database) sees the same progress.
        assert vault.evals.get_run(run_id).status == "running"
        assert [r.key for r in vault.evals.get_run(run_id).results or []] == ["c0", "c1", "c2"]
        again = client.post(
            "/v1/evals/runs", json={"dataset": "d", "resume": run_id}, headers=editor
        )
        assert again.status_code == 409 and again.json()["error"]["details"]["field"] == "resume"
    # The server stopped mid-run: the run is interrupted, its three results kept.
    stopped = vault.evals.get_run(run_id)
    assert stopped.status == "interrupted" and stopped.progress is not None
    assert stopped.progress.done == 3 and stopped.summary is not None
    actions = [e.action for e in vault.audit.entries() if e.details.get("run") == run_id]
    assert actions == ["eval.run", "eval.interrupt"]

    stub.hang_after(None)
    served = stub.served
    with TestClient(create_app(vault)) as client:
        resumed = client.post(
            "/v1/evals/runs", json={"dataset": "d", "resume": run_id}, headers=editor
        )
        assert resumed.status_code == 202 and resumed.json()["status"] == "running"
        body = finished(client, run_id, viewer)
    assert stub.served - served == 5  # only the five cases that had no result
    assert body["summary"]["evaluators"]["exact"]["mean"] == 1.0
    assert [r["key"] for r in body["results"]] == [f"c{i}" for i in range(8)]
    actions = [e.action for e in vault.audit.entries() if e.details.get("run") == run_id]
    assert actions == ["eval.run", "eval.interrupt", "eval.resume", "eval.finish"]


def test_a_run_refused_before_any_call_answers_at_once(
    world: tuple[Vault, FastAPI, dict[str, str], ModelStub],
) -> None:
    vault, app, keys, stub = world
    vault.evals.set_provider("stub", kind="openai", base_url=stub.url)
    vault.push(
        "typed",
        template="Say {{n}}",
        config={"model": "m"},
        variables_schema={
            "type": "object",
            "properties": {"n": {"type": "integer"}},
            "required": ["n"],
        },
    )
    with TestClient(app) as client:
        refused = client.post(
            "/v1/evals/runs",
            json={"dataset": "d", "prompt": "typed@latest"},
            headers=bearer(keys["editor"]),
        )
        missing = client.post(
            "/v1/evals/runs",
            json={"dataset": "nope", "prompt": "qa@production"},
            headers=bearer(keys["editor"]),
        )
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["field"].startswith("cases.c0")
    assert missing.status_code == 404
    assert vault.evals.runs() == [] and stub.requests == []
