"""Property-based run of the app's own OpenAPI: no 5xx, no answer that breaks the schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
_state: dict[str, Any] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The app on a SQLite file with a few prompts, loaded through its own /openapi.json."""
    path: Path = tmp_path_factory.mktemp("schema") / "vault.db"
    vault = Vault(Settings(database_url=f"sqlite:///{path}"))
    vault.push("support", template="Hello {{name}}", author="seed", labels=["staging"])
    vault.push("support", template="Hi {{name}}", author="seed")
    vault.push(
        "chat/bot",
        template=[{"role": "system", "content": "Be {{tone}}."}],
        author="seed",
    )
    app = create_app(vault)
    _state["key"] = app.state.keys.create("schema-admin", "admin", actor="seed")[0]
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    vault.close()


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case: Any) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {_state['key']}"},
        checks=CHECKS,
    )
