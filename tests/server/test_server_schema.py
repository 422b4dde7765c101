"""Property-based run of the app's own OpenAPI: no 5xx, no answer that breaks the schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
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


@pytest.fixture
def api_schema(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """The app on a SQLite file with a few prompts, loaded through its own /openapi.json."""
    vault = Vault(Settings(database_url=f"sqlite:///{tmp_path / 'vault.db'}"))
    vault.push("support", template="Hello {{name}}", author="seed", labels=["staging"])
    vault.push("support", template="Hi {{name}}", author="seed")
    vault.push(
        "chat/bot",
        template=[{"role": "system", "content": "Be {{tone}}."}],
        author="seed",
    )
    app = create_app(vault)
    key = app.state.keys.create("schema-admin", "admin", actor="seed")[0]
    yield schemathesis.openapi.from_asgi("/openapi.json", app), key
    vault.close()


def test_api_conforms_to_its_schema(api_schema: tuple[Any, str]) -> None:
    schema, key = api_schema
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    headers = {"Authorization": f"Bearer {key}"}
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:2000]}")
    assert not failures, "\n\n".join(failures)
