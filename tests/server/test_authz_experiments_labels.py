"""Authorisation of experiments and labels, OWASP API Top 10 style.

API1 (object-level authorisation): a role that may write may still not act on a protected
label (``production``), and an experiment is an object on its label: creating, starting,
ramping, stopping, concluding or checking one decides what the label serves, so each needs
the right to move that label, through every route (REST and web UI). A refused call changes
nothing. API5 (function-level): runtime and viewer keys change nothing. API3 (mass
assignment): fields the server owns (status, who started, the label's version) cannot be
sent.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app

from .conftest import ROLES, bearer

PROTECTED, OPEN = "production", "canary"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(html)
    assert match, "page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, key: str) -> None:
    """Sign ``client`` in to the web UI through the login form."""
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={"api_key": key, "csrf": csrf_of(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


@dataclass
class World:
    app: FastAPI
    vault: Vault
    keys: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One app on one SQLite file; every case makes a fresh prompt of its own."""
    path: Path = tmp_path_factory.mktemp("authz") / "vault.db"
    vault = Vault(Settings(database_url=f"sqlite:///{path}"))
    app = create_app(vault)
    keys = {r: app.state.keys.create(f"{r}-key", r, actor="setup")[0] for r in ROLES}
    yield World(app, vault, keys)
    vault.close()


def _prompt(w: World) -> str:
    """A prompt with v1 and v2; production and canary on v1, each moved once before."""
    name = f"authz/{uuid.uuid4().hex[:10]}"
    w.vault.push(name, template="one {{x}}", author="setup")
    w.vault.push(name, template="two {{x}}", author="setup")
    for label in (PROTECTED, OPEN):
        w.vault.set_label(name, label, 2, actor="setup")
        w.vault.set_label(name, label, 1, actor="setup")
    return name


def _definition(prompt: str, label: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "prompt": prompt,
        "label": label,
        "variants": [{"name": "a", "version": 1}, {"name": "b", "version": 2, "weight": 1}],
        "primary_metric": {"name": "ok"},
    }


def _experiment(w: World, prompt: str, label: str, *, start: bool) -> str:
    name = f"x-{uuid.uuid4().hex[:10]}"
    body = _definition(prompt, label, name)
    w.vault.experiments.create(
        name, **{k: v for k, v in body.items() if k != "name"}, actor="setup", start=start
    )
    return name


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None


# Each operation sets up its object on a fresh prompt and returns the call that acts on it.
Operation = Callable[[World, str, str], Call]


def _exp_call(verb: str, *, start: bool, body: Any = None) -> Operation:
    def make(w: World, prompt: str, label: str) -> Call:
        name = _experiment(w, prompt, label, start=start)
        return Call("POST", f"/v1/experiments/{name}/{verb}", body)

    return make


def _create(start: bool) -> Operation:
    def make(w: World, prompt: str, label: str) -> Call:
        body = {**_definition(prompt, label, f"n-{uuid.uuid4().hex[:10]}"), "start": start}
        return Call("POST", "/v1/experiments", body)

    return make


OPERATIONS: dict[str, Operation] = {
    "experiment-create": _create(False),
    "experiment-create-start": _create(True),
    "experiment-start": _exp_call("start", start=False),
    "experiment-ramp": _exp_call("ramp", start=True, body={"weights": {"a": 0, "b": 1}}),
    "experiment-stop": _exp_call("stop", start=True, body={"reason": "r"}),
    "experiment-conclude": _exp_call("conclude", start=True, body={"winner": "b"}),
    "experiment-check": _exp_call("check", start=True),
    "label-set": lambda w, p, lab: Call("PUT", f"/v1/prompts/{p}/labels/{lab}", {"version": 2}),
    "label-rollback": lambda w, p, lab: Call("POST", f"/v1/prompts/{p}/labels/{lab}/rollback"),
    "label-delete": lambda w, p, lab: Call("DELETE", f"/v1/prompts/{p}/labels/{lab}"),
    "push-with-label": lambda w, p, lab: Call(
        "POST", f"/v1/prompts/{p}/versions", {"template": "three {{x}}", "labels": [lab]}
    ),
}


def _expected(role: str, label: str) -> int | str:
    """The matrix: "ok" (2xx), or the status and code of the refusal."""
    if role in ("runtime", "viewer"):
        return 403
    if role == "editor" and label == PROTECTED:
        return "label_protected"
    return "ok"


def _state(w: World, prompt: str) -> tuple[Any, ...]:
    """Everything a refused call must leave as it was."""
    experiments = tuple(
        (e.name, e.status, tuple(v.weight for v in e.variants))
        for e in w.vault.experiments.list(prompt=prompt)
    )
    return (
        w.vault.labels(prompt),
        len(w.vault.label_history(prompt)),
        w.vault.versions(prompt)[0].version,
        experiments,
    )


@pytest.mark.parametrize("label", [PROTECTED, OPEN])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_api_operation_by_role_and_label(
    world: World, operation: str, role: str, label: str
) -> None:
    prompt = _prompt(world)
    call = OPERATIONS[operation](world, prompt, label)
    before = _state(world, prompt)
    audit_before = len(world.vault.audit.entries(actor=f"{role}-key"))
    with TestClient(world.app) as client:
        response = client.request(
            call.method, call.path, json=call.body, headers=bearer(world.keys[role])
        )
    expected = _expected(role, label)
    if expected == "ok":
        assert 200 <= response.status_code < 300, (response.status_code, response.text)
        return
    assert response.status_code == 403, response.text
    code = response.json()["error"]["code"]
    assert code == ("label_protected" if expected == "label_protected" else "forbidden")
    # Object-level: the refused call changed nothing and recorded nothing in its name.
    assert _state(world, prompt) == before
    assert len(world.vault.audit.entries(actor=f"{role}-key")) == audit_before


def test_the_reported_takeover_is_closed(world: World) -> None:
    """An editor pushes its own version and tries to make production serve it through an
    experiment: as control (the auto-stop would point the label at it) or at 100%."""
    prompt = _prompt(world)
    editor = bearer(world.keys["editor"])
    with TestClient(world.app) as client:
        for variants in (
            [{"name": "mine", "version": 2}, {"name": "theirs", "version": 1}],
            [{"name": "a", "version": 1, "weight": 0}, {"name": "mine", "version": 2}],
        ):
            body = {**_definition(prompt, PROTECTED, "takeover"), "variants": variants}
            for start in (False, True):
                answer = client.post(
                    "/v1/experiments", json={**body, "start": start}, headers=editor
                )
                assert answer.status_code == 403
                assert answer.json()["error"]["code"] == "label_protected"
        # An admin who picks the wrong control is told so and nothing starts.
        admin = bearer(world.keys["admin"])
        body = {
            **_definition(prompt, PROTECTED, f"t-{uuid.uuid4().hex[:8]}"),
            "variants": [{"name": "mine", "version": 2}, {"name": "theirs", "version": 1}],
            "start": True,
        }
        refused = client.post("/v1/experiments", json=body, headers=admin)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "experiment_state"
        assert refused.json()["error"]["details"]["field"] == "variants[0].version"
    assert world.vault.experiments.list(prompt=prompt) == []
    assert world.vault.get(prompt, unit_id="u1").version == 1


@pytest.mark.parametrize(
    "field",
    [
        {"status": "running"},
        {"started_by": "admin-key"},
        {"label_version": 2},
        {"created_by": "someone"},
        {"decision": {"action": "conclude"}},
    ],
    ids=lambda f: next(iter(f)),
)
def test_server_owned_fields_cannot_be_assigned(world: World, field: dict[str, Any]) -> None:
    prompt = _prompt(world)
    body = {**_definition(prompt, OPEN, f"m-{uuid.uuid4().hex[:8]}"), **field}
    with TestClient(world.app) as client:
        answer = client.post("/v1/experiments", json=body, headers=bearer(world.keys["admin"]))
    assert answer.status_code == 422
    assert world.vault.experiments.list(prompt=prompt) == []


# --- the web UI: the same rules behind every form ---------------------------------------


def _ui_move(w: World, prompt: str, label: str, action: str) -> tuple[str, dict[str, str]]:
    if action == "promote":
        return f"/promote/{prompt}", {"label": label, "version": "2"}
    return f"/rollback/{prompt}", {"label": label}


@pytest.mark.parametrize("label", [PROTECTED, OPEN])
@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
@pytest.mark.parametrize("action", ["promote", "rollback"])
def test_ui_label_moves_by_role_and_label(world: World, action: str, role: str, label: str) -> None:
    prompt = _prompt(world)
    path, form = _ui_move(world, prompt, label, action)
    before = _state(world, prompt)
    with TestClient(world.app) as client:
        sign_in(client, world.keys[role])
        confirm = client.get(path, params=form)
        token = csrf_of(client.get("/").text)
        done = client.post(path, data={**form, "csrf": token}, follow_redirects=False)
    if _expected(role, label) == "ok":
        assert confirm.status_code == 200 and done.status_code == 303
        assert _state(world, prompt) != before
    else:
        assert (confirm.status_code, done.status_code) == (403, 403)
        assert _state(world, prompt) == before


@pytest.mark.parametrize("label", [PROTECTED, OPEN])
@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
@pytest.mark.parametrize("action", ["stop", "conclude"])
def test_ui_experiment_changes_by_role_and_label(
    world: World, action: str, role: str, label: str
) -> None:
    prompt = _prompt(world)
    name = _experiment(world, prompt, label, start=True)
    form = {"reason": "r"} if action == "stop" else {"winner": "b"}
    before = _state(world, prompt)
    with TestClient(world.app) as client:
        sign_in(client, world.keys[role])
        page = client.get(f"/experiments/{name}").text
        confirm = client.get(f"/experiments/{name}/{action}", params=form)
        token = csrf_of(page)
        done = client.post(
            f"/experiments/{name}/{action}", data={**form, "csrf": token}, follow_redirects=False
        )
    offered = ("Stop…" if action == "stop" else "Conclude…") in page
    if _expected(role, label) == "ok":
        assert offered and confirm.status_code == 200 and done.status_code == 303
        assert world.vault.experiments.get(name).status != "running"
    else:
        assert not offered
        assert (confirm.status_code, done.status_code) == (403, 403)
        assert _state(world, prompt) == before
