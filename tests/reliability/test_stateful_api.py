"""Stateful schemathesis run of the app on SQLite and PostgreSQL, with a fixed budget.

Schemathesis infers the links between operations from the app's own OpenAPI document
(``POST /v1/prompts`` creates the ``name`` that ``/v1/prompts/{name}/...`` consumes, a key
created by ``POST /v1/keys`` is what ``/v1/keys/{key_id}/rotate`` takes, and so on) and
drives sequences of calls through them with its own engine, the one ``st run`` uses. Every
answer must be a documented status code, never a 5xx, and match its schema. The seed is
fixed and the budget bounded, so a run is repeatable and short.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app

NEWER_GROUPS = r"^/v1/(datasets|evals|webhooks|requests|comments|stream|events/changes)"

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)


def _config(key: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": 12,
            "headers": {"Authorization": f"Bearer {key}"},
            "generation": {
                "mode": "positive",  # valid inputs: sequences that build on each other
                "max-examples": 60,  # scenarios per suite
                "deterministic": True,
                "no-shrink": True,
                "database": "none",
            },
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": False},
                "fuzzing": {"enabled": False},
                "stateful": {"enabled": True, "max-steps": 10},
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )


@pytest.fixture
def api_schema(database_url: str) -> Iterator[Any]:
    """The app on a seeded database, its schema loaded through its own /openapi.json."""
    vault = Vault(Settings(database_url=database_url))
    vault.push("support", template="Hello {{name}}", author="seed", labels=["staging"])
    vault.push("support", template="Hi {{name}}", author="seed")
    vault.push("chat/bot", template=[{"role": "system", "content": "Be {{tone}}."}])
    app = create_app(vault)
    key = app.state.keys.create("stateful-admin", "admin", actor="seed")[0]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(key))
    # The prompt, label, key, experiment and collection API. The newer groups are left out:
    # their POSTs also create a ``name``, which turns link inference away from the prompts
    # (6 links walked instead of 20+), and ``/v1/stream`` never ends by itself.
    yield schema.exclude(path_regex=NEWER_GROUPS)
    vault.close()


def test_stateful_sequences_conform_to_the_schema(api_schema: Any) -> None:
    failures: list[str] = []
    errors: list[str] = []
    calls = linked = 0
    operations: set[str] = set()
    for event in from_schema(api_schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for node in event.recorder.cases.values():
                calls += 1
                linked += node.transition is not None
                operations.add(node.value.operation.label)
            for case_id, checks in event.recorder.checks.items():
                case = event.recorder.cases[case_id].value
                failures.extend(
                    f"{case.operation.label} {case.path_parameters} {check.name}: "
                    f"{check.failure_info}"[:1500]
                    for check in checks
                    if check.failure_info is not None
                )
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            errors.append(str(event.info if isinstance(event, events.NonFatalError) else event))
    assert errors == []
    assert not failures, "\n\n".join(sorted(set(failures)))
    # The run really walked links between operations, over a good part of the API.
    assert linked > 20 and len(operations) >= 15, (calls, linked, sorted(operations))
