"""Every endpoint x every role: allowed -> 2xx, not allowed -> 403, no or bad key -> 401."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app
from promptvault.server.auth import ROLE_PERMISSIONS, Permission

from .conftest import ROLES, bearer
from .evals_matrix import eval_endpoints
from .experiment_endpoints import EXPERIMENT_ENDPOINTS
from .fewshot_matrix import fewshot_endpoints
from .request_matrix import request_endpoints

NAME = "team/support"


@dataclass
class World:
    app: FastAPI
    vault: Vault
    keys: dict[str, str]


@dataclass(frozen=True)
class Endpoint:
    id: str
    method: str
    path: Callable[[World], str]
    needs: Permission
    body: Callable[[World], Any] = field(default=lambda w: None)


def _fresh_prompt(w: World) -> str:
    name = f"tmp/{uuid.uuid4().hex[:8]}"
    w.vault.push(name, template="x", author="setup")
    return name


def _rollback_path(w: World) -> str:
    w.vault.set_label(NAME, "canary", 1, actor="setup")
    w.vault.set_label(NAME, "canary", 2, actor="setup")
    return f"/v1/prompts/{NAME}/labels/canary/rollback"


def _temp_label_path(w: World) -> str:
    w.vault.set_label(NAME, "temp", 1, actor="setup")
    return f"/v1/prompts/{NAME}/labels/temp"


def _revocable_key(w: World) -> str:
    _, record = w.app.state.keys.create(f"k-{uuid.uuid4().hex[:8]}", "runtime", actor="setup")
    return f"/v1/keys/{record.id}"


def _rotatable_key(w: World) -> str:
    _, record = w.app.state.keys.create(f"k-{uuid.uuid4().hex[:8]}", "runtime", actor="setup")
    return f"/v1/keys/{record.id}/rotate"


def _webhook(w: World) -> str:
    _, hook = w.vault.webhooks.create("http://127.0.0.1:9/hook", actor="setup")
    return str(hook.id)


def _webhook_path(suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/v1/webhooks/{_webhook(w)}{suffix}"


def _redeliver_path(w: World) -> str:
    from promptvault.webhooks.dispatcher import Dispatcher

    hook = _webhook(w)
    w.vault.set_label(NAME, f"hook-{uuid.uuid4().hex[:8]}", 1, actor="setup")
    Dispatcher(w.vault.webhooks, holder="matrix").run_once()  # logs one failed attempt
    delivery = w.vault.webhooks.deliveries(hook)[0]
    return f"/v1/webhooks/{hook}/deliveries/{delivery.id}/redeliver"


def _const(path: str) -> Callable[[World], str]:
    return lambda w: path


ENDPOINTS = [
    Endpoint("resolve", "GET", _const(f"/v1/prompts/{NAME}/resolve"), Permission.RESOLVE),
    Endpoint(
        "render",
        "POST",
        _const(f"/v1/prompts/{NAME}/render"),
        Permission.RESOLVE,
        lambda w: {"variables": {"name": "Ada"}},
    ),
    Endpoint("list", "GET", _const("/v1/prompts"), Permission.READ),
    Endpoint("get", "GET", _const(f"/v1/prompts/{NAME}"), Permission.READ),
    Endpoint("versions", "GET", _const(f"/v1/prompts/{NAME}/versions"), Permission.READ),
    Endpoint("version", "GET", _const(f"/v1/prompts/{NAME}/versions/1"), Permission.READ),
    Endpoint("labels", "GET", _const(f"/v1/prompts/{NAME}/labels"), Permission.READ),
    Endpoint(
        "history", "GET", _const(f"/v1/prompts/{NAME}/labels/production/history"), Permission.READ
    ),
    Endpoint("label-history", "GET", _const(f"/v1/prompts/{NAME}/label-history"), Permission.READ),
    Endpoint("diff", "GET", _const(f"/v1/prompts/{NAME}/diff?from=1&to=2"), Permission.READ),
    Endpoint("audit", "GET", _const("/v1/audit"), Permission.READ),
    Endpoint("events-changes", "GET", _const("/v1/events/changes?after=0"), Permission.RESOLVE),
    Endpoint("stream", "GET", _const("/v1/stream?duration=0"), Permission.RESOLVE),
    Endpoint(
        "create",
        "POST",
        _const("/v1/prompts"),
        Permission.WRITE,
        lambda w: {"name": f"new/{uuid.uuid4().hex[:8]}", "template": "x"},
    ),
    Endpoint(
        "push",
        "POST",
        _const(f"/v1/prompts/{NAME}/versions"),
        Permission.WRITE,
        lambda w: {"template": f"Hello {{{{name}}}} {uuid.uuid4().hex}"},
    ),
    Endpoint(
        "set-label",
        "PUT",
        _const(f"/v1/prompts/{NAME}/labels/staging"),
        Permission.WRITE,
        lambda w: {"version": 1},
    ),
    Endpoint("delete-label", "DELETE", _temp_label_path, Permission.WRITE),
    Endpoint("rollback", "POST", _rollback_path, Permission.WRITE),
    Endpoint("archive", "DELETE", lambda w: f"/v1/prompts/{_fresh_prompt(w)}", Permission.WRITE),
    Endpoint(
        "set-protected",
        "PUT",
        _const(f"/v1/prompts/{NAME}/labels/production"),
        Permission.PROTECTED,
        lambda w: {"version": 1},
    ),
    Endpoint("keys-list", "GET", _const("/v1/keys"), Permission.ADMIN),
    Endpoint(
        "keys-create",
        "POST",
        _const("/v1/keys"),
        Permission.ADMIN,
        lambda w: {"name": f"k-{uuid.uuid4().hex[:8]}", "role": "viewer"},
    ),
    Endpoint("keys-revoke", "DELETE", _revocable_key, Permission.ADMIN),
    Endpoint("keys-rotate", "POST", _rotatable_key, Permission.ADMIN, lambda w: {"grace": 60}),
    Endpoint("audit-verify", "POST", _const("/v1/audit/verify"), Permission.ADMIN),
    Endpoint("webhooks-list", "GET", _const("/v1/webhooks"), Permission.ADMIN),
    Endpoint(
        "webhooks-create",
        "POST",
        _const("/v1/webhooks"),
        Permission.ADMIN,
        lambda w: {"url": "http://127.0.0.1:9/hook", "event_types": ["label.*"]},
    ),
    Endpoint("webhooks-get", "GET", _webhook_path(), Permission.ADMIN),
    Endpoint("webhooks-remove", "DELETE", _webhook_path(), Permission.ADMIN),
    Endpoint("webhooks-disable", "POST", _webhook_path("/disable"), Permission.ADMIN),
    Endpoint("webhooks-enable", "POST", _webhook_path("/enable"), Permission.ADMIN),
    Endpoint("webhooks-test", "POST", _webhook_path("/test"), Permission.ADMIN),
    Endpoint("webhooks-deliveries", "GET", _webhook_path("/deliveries"), Permission.ADMIN),
    Endpoint("webhooks-redeliver", "POST", _redeliver_path, Permission.ADMIN),
    *(Endpoint(*spec) for spec in EXPERIMENT_ENDPOINTS),
    *fewshot_endpoints(Endpoint, NAME),
    *eval_endpoints(Endpoint),
    *request_endpoints(Endpoint, NAME),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One app on one SQLite file for the whole matrix (each case sets up what it uses)."""
    path: Path = tmp_path_factory.mktemp("auth") / "vault.db"
    # Hundreds of deliberate 401s from one client: raise the failure rate limit (tested in
    # test_server_ratelimit.py) so the matrix sees the answers it checks.
    vault = Vault(
        Settings(
            database_url=f"sqlite:///{path}",
            auth_failure_burst=100_000,
            # Webhooks point at a closed loopback port; the matrix sends by hand only.
            webhook_allow_networks=["127.0.0.0/8"],
            webhook_dispatcher=False,
        )
    )
    vault.push(NAME, template="Hello {{name}}", author="setup")
    vault.push(NAME, template="Hi {{name}}", author="setup", labels=["staging"])
    app = create_app(vault)
    keys = {r: app.state.keys.create(f"{r}-key", r, actor="setup")[0] for r in ROLES}
    yield World(app, vault, keys)
    vault.close()


def _call(w: World, endpoint: Endpoint, headers: dict[str, str]) -> int:
    with TestClient(w.app) as client:
        response = client.request(
            endpoint.method, endpoint.path(w), json=endpoint.body(w), headers=headers
        )
    return response.status_code


def test_every_route_is_in_the_matrix(world: World) -> None:
    paths = world.app.openapi()["paths"]
    routes = {(m.upper(), p) for p, ops in paths.items() if p.startswith("/v1/") for m in ops}
    assert len(routes) == len(ENDPOINTS) - 1  # set-label and set-protected share one route


@pytest.mark.parametrize("role", [*ROLES, "none", "invalid", "revoked"])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_endpoint_by_role(world: World, endpoint: Endpoint, role: str) -> None:
    if role == "none":
        headers: dict[str, str] = {}
    elif role == "invalid":
        headers = bearer("pv_0123456789ab_not-a-real-secret")
    elif role == "revoked":
        plaintext, record = world.app.state.keys.create(
            f"gone-{uuid.uuid4().hex[:8]}", "admin", actor="setup"
        )
        world.app.state.keys.revoke(record.id, actor="setup")
        headers = bearer(plaintext)
    else:
        headers = bearer(world.keys[role])
    status = _call(world, endpoint, headers)
    if role in ("none", "invalid", "revoked"):
        assert status == 401
    elif endpoint.needs in ROLE_PERMISSIONS[role]:
        assert 200 <= status < 300, (endpoint.id, role, status)
    else:
        assert status == 403, (endpoint.id, role, status)


def test_x_api_key_header_and_error_codes(world: World) -> None:
    with TestClient(world.app) as client:
        ok = client.get(f"/v1/prompts/{NAME}/resolve", headers={"X-API-Key": world.keys["runtime"]})
        assert ok.status_code == 200
        denied = client.get("/v1/prompts", headers={"X-API-Key": world.keys["runtime"]})
        assert denied.json()["error"]["code"] == "forbidden"
        anonymous = client.get("/v1/prompts")
        assert anonymous.json()["error"]["code"] == "unauthenticated"
        assert anonymous.headers["www-authenticate"] == "Bearer"
        protected = client.put(
            f"/v1/prompts/{NAME}/labels/production",
            json={"version": 2},
            headers=bearer(world.keys["editor"]),
        )
        assert protected.status_code == 403
        assert protected.json()["error"]["code"] == "label_protected"
        pushed = client.post(
            f"/v1/prompts/{NAME}/versions",
            json={"template": "other {{name}}", "labels": ["production"]},
            headers=bearer(world.keys["editor"]),
        )
        assert pushed.json()["error"]["code"] == "label_protected"
    assert world.vault.get(NAME).template == "Hello {{name}}"  # nothing moved


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"])
def test_probes_and_docs_need_no_key(world: World, path: str) -> None:
    with TestClient(world.app) as client:
        assert client.get(path).status_code == 200
