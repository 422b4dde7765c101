"""The Langfuse-compatible prompt API: shapes, status codes, error bodies, auth and audit."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.config import Settings
from promptvault.registry.keys import from_langfuse_pair, langfuse_pair
from promptvault.server.app import create_app

from .conftest import ROLES, bearer

BASE = "/api/public/v2/prompts"

# Reads and bad input need no second database; writes run on both.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def basic(key: str) -> dict[str, str]:
    public, secret = langfuse_pair(key)
    token = base64.b64encode(f"{public}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@sqlite_only
def test_the_pair_is_the_key_in_two_halves(keys: dict[str, str]) -> None:
    public, secret = langfuse_pair(keys["admin"])
    assert public.startswith("pk-lf-") and secret.startswith("sk-lf-")
    assert from_langfuse_pair(public, secret) == keys["admin"]
    assert from_langfuse_pair(public, "sk-lf-") is None
    assert from_langfuse_pair("pk-xx-0123456789ab", secret) is None


def test_text_prompt_round_trip(client: TestClient, keys: dict[str, str], vault: Vault) -> None:
    body = {
        "name": "team/greet",
        "type": "text",
        "prompt": "Hi {{name}} <b>{{ x }}</b>",
        "labels": ["staging"],
        "tags": ["web"],
        "config": {"model": "gpt-x", "temperature": 0.2},
        "commitMessage": "first cut",
    }
    created = client.post(BASE, json=body, headers=basic(keys["editor"]))
    assert created.status_code == 201, created.text
    made = created.json()
    assert made["name"] == "team/greet" and made["version"] == 1 and made["type"] == "text"
    assert made["prompt"] == "Hi {{name}} <b>{{ x }}</b>"
    assert made["labels"] == ["production", "staging", "latest"]
    assert made["tags"] == ["web"] and made["config"] == body["config"]
    assert made["commitMessage"] == "first cut" and made["resolutionGraph"] is None
    assert made["createdBy"] == "editor-key"

    # Slashes URL-encoded, as the Langfuse SDK sends folder names.
    got = client.get(f"{BASE}/{quote('team/greet', safe='')}", headers=basic(keys["runtime"]))
    assert got.status_code == 200 and got.json() == made
    by_label = client.get(f"{BASE}/team%2Fgreet?label=staging", headers=basic(keys["runtime"]))
    assert by_label.json()["version"] == 1

    # An ordinary promptvault prompt: rendered with Langfuse's rules, audited.
    version = vault.get("team/greet")
    assert version.syntax == "langfuse" and version.message == "first cut"
    assert vault.render("team/greet", {"name": "A&B"}) == "Hi A&B <b>{{ x }}</b>"
    pushes = vault.audit.entries(action="prompt.push", target="prompt:team/greet")
    assert [e.actor for e in pushes] == ["editor-key"]


@sqlite_only
def test_chat_prompt_with_placeholder(client: TestClient, keys: dict[str, str]) -> None:
    messages = [
        {"role": "system", "content": "You are {{tone}}"},
        {"type": "placeholder", "name": "history"},
        {"type": "chatmessage", "role": "user", "content": "{{q}}"},
    ]
    created = client.post(
        BASE,
        json={"name": "chat", "type": "chat", "prompt": messages},
        headers=basic(keys["admin"]),
    )
    assert created.status_code == 201, created.text
    assert created.json()["prompt"] == [
        {"type": "chatmessage", "role": "system", "content": "You are {{tone}}"},
        {"type": "placeholder", "name": "history"},
        {"type": "chatmessage", "role": "user", "content": "{{q}}"},
    ]


def test_versions_labels_and_patch(client: TestClient, keys: dict[str, str], vault: Vault) -> None:
    admin = basic(keys["admin"])
    for text in ("one", "two", "three"):
        assert client.post(BASE, json={"name": "p", "prompt": text}, headers=admin).is_success
    # Identical content creates nothing: 200 and the newest version.
    again = client.post(BASE, json={"name": "p", "prompt": "three"}, headers=admin)
    assert again.status_code == 200 and again.json()["version"] == 3

    assert client.get(f"{BASE}/p", headers=admin).json()["prompt"] == "one"  # production
    assert client.get(f"{BASE}/p?label=latest", headers=admin).json()["version"] == 3
    assert client.get(f"{BASE}/p?version=2", headers=admin).json()["labels"] == []

    moved = client.patch(
        f"{BASE}/p/versions/2", json={"newLabels": ["production", "qa"]}, headers=admin
    )
    assert moved.status_code == 200
    assert moved.json()["labels"] == ["production", "qa"]
    assert client.get(f"{BASE}/p", headers=admin).json()["prompt"] == "two"
    assert vault.labels("p") == {"production": 2, "qa": 2}
    moves = vault.audit.entries(action="label.set", target="prompt:p")
    assert [e.details["label"] for e in moves][-2:] == ["production", "qa"]
    assert moves[-1].actor == "admin-key"

    # All or nothing: an editor may not move production, so qa does not move either.
    refused = client.patch(
        f"{BASE}/p/versions/3",
        json={"newLabels": ["qa", "production"]},
        headers=basic(keys["editor"]),
    )
    assert refused.status_code == 403
    assert refused.json() == {
        "message": "label 'production' is protected: only an admin key may move it",
        "error": "ForbiddenError",
    }
    bad = client.patch(f"{BASE}/p/versions/3", json={"newLabels": ["qa", "latest"]}, headers=admin)
    assert bad.status_code == 400 and bad.json()["error"] == "InvalidRequestError"
    assert vault.labels("p") == {"production": 2, "qa": 2}
    missing = client.patch(f"{BASE}/p/versions/9", json={"newLabels": ["qa"]}, headers=admin)
    assert missing.status_code == 404 and missing.json()["error"] == "LangfuseNotFoundError"


@sqlite_only
def test_errors_in_langfuse_shape(client: TestClient, keys: dict[str, str]) -> None:
    admin = basic(keys["admin"])
    client.post(BASE, json={"name": "p", "prompt": "x"}, headers=admin)
    assert client.get(f"{BASE}/nope", headers=admin).json() == {
        "message": "no prompt named 'nope'",
        "error": "LangfuseNotFoundError",
    }
    no_label = client.get(f"{BASE}/p?label=staging", headers=admin)
    assert no_label.status_code == 404 and "staging" in no_label.json()["message"]
    both = client.get(f"{BASE}/p?label=staging&version=1", headers=admin)
    assert both.status_code == 400 and both.json()["error"] == "InvalidRequestError"
    invalid = client.post(BASE, json={"name": "q"}, headers=admin)  # no prompt
    assert invalid.status_code == 400
    assert set(invalid.json()) == {"message", "error"} and "prompt" in invalid.json()["message"]
    wrong_type = client.post(BASE, json={"name": "q", "prompt": "x", "type": "chat"}, headers=admin)
    assert wrong_type.status_code == 400
    bad_config = client.post(BASE, json={"name": "q", "prompt": "x", "config": [1]}, headers=admin)
    assert bad_config.status_code == 400 and "config" in bad_config.json()["message"]
    unknown_kind = client.post(
        BASE,
        json={"name": "q", "type": "chat", "prompt": [{"type": "image", "name": "x"}]},
        headers=admin,
    )
    assert unknown_kind.status_code == 400 and "prompt[0].type" in unknown_kind.json()["message"]
    assert client.get(f"{BASE}/q", headers=admin).status_code == 404  # nothing was written


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Basic " + base64.b64encode(b"pk-lf-0123456789ab:sk-lf-wrong").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"someone:else").decode()},
    ],
    ids=["none", "garbage", "wrong-secret", "not-a-pair"],
)
def test_unauthenticated(world: tuple[TestClient, dict[str, str]], headers: dict[str, str]) -> None:
    client, _ = world
    answer = client.get(f"{BASE}/p", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"] == "UnauthorizedError"
    assert answer.headers["www-authenticate"].startswith("Basic")


# What each role may do here: the same permissions as the /v1 routes these mirror.
ALLOWED = {
    "get": {"runtime", "viewer", "editor", "admin"},  # a resolve
    "list": {"viewer", "editor", "admin"},
    "create": {"editor", "admin"},
    "patch": {"editor", "admin"},
    "patch-production": {"admin"},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """One app on one SQLite file for the whole role matrix."""
    path = tmp_path_factory.mktemp("langfuse") / "vault.db"
    vault = Vault(Settings(database_url=f"sqlite:///{path}"))
    vault.push("team/p", template="v1", author="setup")
    vault.push("team/p", template="v2", author="setup")
    app = create_app(vault)
    keys = {role: app.state.keys.create(f"{role}-key", role, actor="setup")[0] for role in ROLES}
    with TestClient(app) as client:
        yield client, keys
    vault.close()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(ALLOWED))
def test_permissions_by_role(
    world: tuple[TestClient, dict[str, str]], role: str, action: str
) -> None:
    client, keys = world
    headers = basic(keys[role])
    if action == "get":
        answer = client.get(f"{BASE}/team%2Fp", headers=headers)
    elif action == "list":
        answer = client.get(BASE, headers=headers)
    elif action == "create":
        answer = client.post(BASE, json={"name": "team/p", "prompt": "v3"}, headers=headers)
    else:
        label = "production" if action == "patch-production" else "qa"
        answer = client.patch(
            f"{BASE}/team%2Fp/versions/2", json={"newLabels": [label]}, headers=headers
        )
    if role in ALLOWED[action]:
        assert answer.status_code in (200, 201), answer.text
    else:
        assert answer.status_code == 403
        assert answer.json()["error"] == "ForbiddenError"
    # A plain promptvault key works here too (Bearer), with the same outcome.
    plain = client.get(f"{BASE}/team%2Fp", headers=bearer(keys[role]))
    assert plain.status_code == 200


@sqlite_only
def test_listing_filters_and_pages(client: TestClient, keys: dict[str, str], vault: Vault) -> None:
    admin = basic(keys["admin"])
    vault.push("a", template="a1", author="setup", tags=["x"])
    vault.push("a", template="a2", author="setup", labels=["staging"], config={"t": 1})
    vault.push("b/c", template="b1", author="setup")
    vault.push("d", template="d1", author="setup", tags=["x"])
    vault.archive("d", actor="setup")

    everything = client.get(BASE, headers=admin).json()
    assert [p["name"] for p in everything["data"]] == ["a", "b/c"]
    assert everything["meta"] == {"page": 1, "limit": 50, "totalItems": 2, "totalPages": 1}
    first = everything["data"][0]
    assert first == {
        "name": "a",
        "type": "text",
        "versions": [1, 2],
        "labels": ["latest", "production", "staging"],
        "tags": ["x"],
        "lastUpdatedAt": first["lastUpdatedAt"],
        "lastConfig": {"t": 1},
    }
    assert datetime.fromisoformat(first["lastUpdatedAt"]) == vault.get("a@2").created_at

    page2 = client.get(f"{BASE}?limit=1&page=2", headers=admin).json()
    assert [p["name"] for p in page2["data"]] == ["b/c"]
    assert page2["meta"] == {"page": 2, "limit": 1, "totalItems": 2, "totalPages": 2}

    staging = client.get(f"{BASE}?label=staging", headers=admin).json()["data"]
    assert [(p["name"], p["versions"]) for p in staging] == [("a", [2])]
    assert [p["name"] for p in client.get(f"{BASE}?tag=x", headers=admin).json()["data"]] == ["a"]
    assert client.get(f"{BASE}?name=b/c", headers=admin).json()["data"][0]["versions"] == [1]
    assert client.get(f"{BASE}?name=zz", headers=admin).json()["meta"]["totalItems"] == 0

    newest = vault.get("b/c@1").created_at
    later = (newest + timedelta(seconds=1)).astimezone(UTC).isoformat()
    since = client.get(BASE, params={"fromUpdatedAt": later}, headers=admin).json()
    assert since["data"] == [] and since["meta"]["totalPages"] == 0
    cut = vault.get("a@2").created_at.isoformat()
    before = client.get(BASE, params={"toUpdatedAt": cut}, headers=admin).json()["data"]
    assert [(p["name"], p["versions"]) for p in before] == [("a", [1])]
    assert client.get(f"{BASE}?limit=0", headers=admin).status_code == 400
