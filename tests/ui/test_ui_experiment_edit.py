"""Creating, starting and ramping experiments from the web UI, per role (the API's checks)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.errors import NotFoundError

from .conftest import csrf_of

AsRole = Callable[[str], TestClient]


def _prompt(vault: Vault) -> None:
    vault.push("greet", template="Hello {{name}}.")
    vault.push("greet", template="Hi there {{name}}!", labels=["staging"])


def _form(name: str, label: str, **extra: str) -> dict[str, str]:
    return {
        "name": name,
        "prompt": "greet",
        "label": label,
        "control_version": label,  # control: what the label serves now
        "control_weight": "80",
        "treatment_version": "2",
        "treatment_weight": "20",
        "metric": "resolved",
        "metric_kind": "binary",
        "guardrail": "handle_time",
        "guardrail_kind": "continuous",
        **extra,
    }


def test_editor_creates_starts_and_ramps_on_an_unprotected_label(
    vault: Vault, as_role: AsRole
) -> None:
    _prompt(vault)
    vault.set_label("greet", "beta", 1)
    editor = as_role("editor")
    form = editor.get("/experiments/+new?prompt=greet")
    assert form.status_code == 200 and 'value="greet"' in form.text
    assert 'href="/experiments/+new' in editor.get("/experiments").text
    token = csrf_of(form.text)
    made = editor.post("/experiments/+new", data={"csrf": token, **_form("tone", "beta")})
    assert made.status_code == 200 and "Experiment tone created as a draft" in made.text
    exp = vault.experiments.get("tone")
    assert exp.status == "draft" and [v.version for v in exp.variants] == [1, 2]
    assert exp.guardrails[0].name == "handle_time"
    assert "Start</button>" in made.text
    started = editor.post("/experiments/tone/start", data={"csrf": token})
    assert "Experiment tone started" in started.text
    assert vault.experiments.get("tone").status == "running"
    assert "Ramp: change the weights" in started.text
    ramped = editor.post(
        "/experiments/tone/ramp",
        data={"csrf": token, "weight_control": "50", "weight_treatment": "50"},
    )
    assert "Weights of tone now control 50, treatment 50" in ramped.text
    assert [v.weight for v in vault.experiments.get("tone").variants] == [50, 50]
    bad = editor.post("/experiments/tone/ramp", data={"csrf": token, "weight_control": "-1"})
    assert bad.status_code == 422
    actions = {e.action for e in vault.audit.entries(target="experiment:tone")}
    assert {"experiment.create", "experiment.start", "experiment.ramp"} <= actions


def test_production_needs_admin_and_start_now_runs_at_once(vault: Vault, as_role: AsRole) -> None:
    _prompt(vault)
    editor = as_role("editor")
    token = csrf_of(editor.get("/experiments/+new").text)
    refused = editor.post("/experiments/+new", data={"csrf": token, **_form("prod", "production")})
    assert refused.status_code == 403
    with pytest.raises(NotFoundError):
        vault.experiments.get("prod")
    admin = as_role("admin")
    token = csrf_of(admin.get("/experiments/+new").text)
    made = admin.post(
        "/experiments/+new", data={"csrf": token, **_form("prod", "production", start="1")}
    )
    assert "Experiment prod started" in made.text
    assert vault.experiments.get("prod").status == "running"
    # An editor may not ramp it either, and sees no ramp form.
    assert "Ramp: change the weights" not in editor.get("/experiments/prod").text
    forged = editor.post("/experiments/prod/ramp", data={"csrf": token, "weight_control": "1"})
    assert forged.status_code == 403
    # A failed start leaves no draft: control must be what the label serves.
    wrong = admin.post(
        "/experiments/+new",
        data={"csrf": token, **_form("wrong", "production", start="1", control_version="2")},
    )
    assert wrong.status_code == 409
    with pytest.raises(NotFoundError):
        vault.experiments.get("wrong")


def test_viewer_cannot_create_start_or_ramp(vault: Vault, as_role: AsRole) -> None:
    _prompt(vault)
    vault.experiments.create(
        "draft-one",
        prompt="greet",
        label="staging",
        variants=[{"name": "control", "version": 2}, {"name": "b", "version": 1}],
        primary_metric={"name": "resolved"},
    )
    viewer = as_role("viewer")
    assert viewer.get("/experiments/+new").status_code == 403
    assert "New experiment" not in viewer.get("/experiments").text
    assert "Start</button>" not in viewer.get("/experiments/draft-one").text
    token = csrf_of(viewer.get("/").text)
    for url in ("/experiments/+new", "/experiments/draft-one/start", "/experiments/draft-one/ramp"):
        assert viewer.post(url, data={"csrf": token, **_form("x", "staging")}).status_code == 403
    assert vault.experiments.get("draft-one").status == "draft"
