"""PROMPTVAULT_MAX_SOURCE_BYTES, _MAX_OUTPUT_BYTES and _MAX_PARTIAL_DEPTH change what the
Vault and the server accept: push, render and build all use them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.config import Settings
from promptvault.errors import TemplateLimitError
from promptvault.server.app import create_app


@pytest.fixture
def make_vault(tmp_path: Path, database_url: str) -> Iterator[Any]:
    opened: list[Vault] = []

    def make(**limits: int) -> Vault:
        vault = Vault(Settings(home=tmp_path, database_url=database_url, **limits))
        opened.append(vault)
        return vault

    yield make
    for vault in opened:
        vault.close()


def test_max_source_bytes_bounds_what_a_push_accepts(make_vault: Any) -> None:
    template = "x" * 500 + "{{a}}"
    make_vault().push("roomy", template=template)  # the 1 MiB default
    vault = make_vault(max_source_bytes=400)
    with pytest.raises(TemplateLimitError) as caught:
        vault.push("tight", template=template)
    assert caught.value.details["limit"] == "max_source_bytes"
    assert caught.value.details["max"] == 400


def test_max_output_bytes_bounds_render_and_build(make_vault: Any) -> None:
    make_vault().push("long", template="{{#items}}{{.}}{{/items}}")
    items = {"items": ["y" * 100] * 20}  # 2,000 characters
    assert len(make_vault().render("long", items)) == 2000
    vault = make_vault(max_output_bytes=1000)
    for call in (lambda: vault.render("long", items), lambda: vault.build("long", items)):
        with pytest.raises(TemplateLimitError) as caught:
            call()
        assert caught.value.details["limit"] == "max_output_bytes"


def test_max_partial_depth_bounds_partial_nesting(make_vault: Any) -> None:
    seed = make_vault()
    seed.push("p3", template="deep")
    seed.push("p2", template="<{{> p3}}>")
    seed.push("p1", template="<{{> p2}}>")
    seed.push("top", template="{{> p1}}")
    assert seed.render("top", {}) == "<<deep>>"
    vault = make_vault(max_partial_depth=2)
    with pytest.raises(TemplateLimitError) as caught:
        vault.render("top", {})
    assert caught.value.details["limit"] == "max_depth"


def test_the_server_uses_the_settings(tmp_path: Path, database_url: str) -> None:
    settings = Settings(home=tmp_path, database_url=database_url, max_output_bytes=1000)
    app = create_app(settings)
    key = app.state.keys.create("limits", "admin", actor="setup")[0]
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        pushed = client.post(
            "/v1/prompts/long/versions",
            json={"template": "{{#items}}{{.}}{{/items}}"},
            headers=auth,
        )
        assert pushed.status_code in (200, 201), pushed.text
        small = client.post(
            "/v1/prompts/long/render", json={"variables": {"items": ["y"] * 10}}, headers=auth
        )
        assert small.json()["output"] == "y" * 10
        big = client.post(
            "/v1/prompts/long/render", json={"variables": {"items": ["y"] * 2000}}, headers=auth
        )
        assert big.status_code in (413, 422), big.text
        assert big.json()["error"]["code"] == "template_limit"
    app.state.vault.close()


def test_a_push_of_deep_nesting_within_the_limit_is_accepted(
    tmp_path: Path, database_url: str
) -> None:
    # 99 nested inverted sections (the limit is 100) made compile() raise IndentationError,
    # and the push answered 500; 101 is refused with the limit named.
    app = create_app(Settings(home=tmp_path, database_url=database_url))
    key = app.state.keys.create("deep", "admin", actor="setup")[0]
    auth = {"Authorization": f"Bearer {key}"}

    def nested(depth: int) -> str:
        opened = "".join(f"{{{{^a{i}}}}}x" for i in range(depth))
        return opened + "".join(f"{{{{/a{i}}}}}" for i in reversed(range(depth)))

    with TestClient(app) as client:
        deep = client.post("/v1/prompts/deep/versions", json={"template": nested(99)}, headers=auth)
        assert deep.status_code in (200, 201), deep.text
        rendered = client.post(
            "/v1/prompts/deep/render", json={"variables": {}, "strict": False}, headers=auth
        )
        assert rendered.status_code == 200, rendered.text
        assert rendered.json()["output"] == "x" * 99
        too_deep = client.post(
            "/v1/prompts/deeper/versions", json={"template": nested(101)}, headers=auth
        )
        assert too_deep.status_code in (413, 422), too_deep.text
        assert too_deep.json()["error"]["details"]["limit"] == "nesting"
    app.state.vault.close()
