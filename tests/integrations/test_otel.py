"""OpenTelemetry spans, recorded with the SDK's in-memory exporter; none without the package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.builder.builder import BuildMetadata
from promptvault.client import PromptVaultClient
from promptvault.config import Settings
from promptvault.integrations.otel import version_attributes
from promptvault.server.app import create_app, create_app_from_env

_EXPORTER = InMemorySpanExporter()


def _provider() -> TracerProvider:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # nothing set yet in this process
        trace.set_tracer_provider(TracerProvider())
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    return provider


_provider().add_span_processor(SimpleSpanProcessor(_EXPORTER))


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


@pytest.fixture
def vault(sqlite_url: str) -> Iterator[Vault]:
    v = Vault(Settings(database_url=sqlite_url))
    v.push("support", template="Hi {{name}}", config={"model": "gpt-x"}, labels=["staging"])
    yield v
    v.close()


def _named(exporter: InMemorySpanExporter, name: str) -> list[Any]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


APP = trace.get_tracer("the-application")


def test_vault_spans(vault: Vault, spans: InMemorySpanExporter) -> None:
    vault.get("support@staging")  # outside any trace: no span of its own
    assert spans.get_finished_spans() == ()
    with APP.start_as_current_span("handle-request") as outer:
        vault.get("support@staging")
        vault.render("support", {"name": "Ada"})
        built = vault.build("support", {"name": "Ada"})
        with pytest.raises(Exception, match="missing"):
            vault.render("support", {})
    (resolve,) = _named(spans, "promptvault.resolve")
    assert dict(resolve.attributes) == {
        "gen_ai.prompt.name": "support",
        "promptvault.prompt.label": "staging",
        "promptvault.prompt.version": 1,
        "promptvault.prompt.hash": built.metadata.hash,
        "gen_ai.request.model": "gpt-x",
    }
    render = _named(spans, "promptvault.render")[0]
    assert render.attributes["gen_ai.prompt.name"] == "support"
    assert render.parent is not None and render.parent.span_id == outer.get_span_context().span_id
    (build,) = _named(spans, "promptvault.build")
    assert build.attributes["promptvault.prompt.hash"] == built.metadata.hash
    assert build.attributes["gen_ai.request.model"] == "gpt-x"
    assert build.attributes["promptvault.prompt.version"] == 1
    failed = _named(spans, "promptvault.render")[-1]
    assert failed.attributes["error.type"] == "MissingVariablesError"


def test_metadata_attributes_name_experiment_and_variant(vault: Vault) -> None:
    meta = BuildMetadata(
        prompt="support", version=3, hash="h", label="production", experiment="e1", variant="b"
    )
    assert meta.otel_attributes() == {
        "gen_ai.prompt.name": "support",
        "promptvault.prompt.version": 3,
        "promptvault.prompt.hash": "h",
        "promptvault.prompt.label": "production",
        "promptvault.experiment": "e1",
        "promptvault.variant": "b",
    }
    routed = vault.get("support").model_copy(update={"experiment": "e1", "variant": "b"})
    assert version_attributes(routed)["promptvault.variant"] == "b"
    assert vault.build("support", {"name": "A"}).metadata.otel_attributes() == {
        "gen_ai.prompt.name": "support",
        "promptvault.prompt.version": 1,
        "promptvault.prompt.hash": vault.get("support").hash,
        "promptvault.prompt.label": "production",
    }


def test_server_http_spans_continue_the_callers_trace(
    vault: Vault, spans: InMemorySpanExporter
) -> None:
    app = create_app(vault)
    key = app.state.keys.create("k", "admin", actor="setup")[0]
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    headers = {"Authorization": f"Bearer {key}", "traceparent": parent}
    with TestClient(app) as client:
        assert client.get("/v1/prompts/support/resolve", headers=headers).status_code == 200
        rendered = client.post(
            "/v1/prompts/support/render", json={"variables": {"name": "A"}}, headers=headers
        )
        assert rendered.status_code == 200
        assert client.get("/v1/prompts/nope/resolve", headers=headers).status_code == 404
    # The HTTP spans are FastAPI's own; promptvault's nest inside the caller's trace.
    http = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert [s.attributes["http.response.status_code"] for s in http] == [200, 200, 404]
    assert http[1].attributes["http.route"] == "/v1/prompts/{name}/render"
    trace_id = 0x0AF7651916CD43DD8448EB211C80319C
    assert all(s.context.trace_id == trace_id for s in spans.get_finished_spans())
    (render,) = _named(spans, "promptvault.render")
    assert render.parent is not None and render.attributes["gen_ai.prompt.name"] == "support"


def test_a_worker_app_traces_requests_when_its_process_has_a_provider(
    vault: Vault, spans: InMemorySpanExporter, sqlite_url: str, tmp_path: Any, monkeypatch: Any
) -> None:
    # This process has a tracer provider (set above), as a worker started under
    # opentelemetry-instrument or with OTEL_PYTHON_TRACER_PROVIDER has.
    monkeypatch.setenv("PROMPTVAULT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("PROMPTVAULT_HOME", str(tmp_path / "home"))
    app = create_app_from_env()
    key = app.state.keys.create("k", "runtime", actor="setup")[0]
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        assert client.get("/v1/prompts/support/resolve", headers=headers).status_code == 200
        assert client.get("/v1/prompts/nope/resolve", headers=headers).status_code == 404
    http = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert [s.attributes["http.response.status_code"] for s in http] == [200, 404]


SERVING = textwrap.dedent(
    """
    import json
    from promptvault.server.telemetry import serving_telemetry

    print(json.dumps(serving_telemetry(), sort_keys=True))
    """
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {"metrics": False, "tracing": False}),
        (
            {"OTEL_PYTHON_TRACER_PROVIDER": "sdk_tracer_provider"},
            {"metrics": False, "tracing": True},
        ),
        (
            {"OTEL_PYTHON_METER_PROVIDER": "sdk_meter_provider"},
            {"metrics": True, "tracing": False},
        ),
        ({"FASTAPI_OTEL_AUTO_CONFIGURE": "true"}, {}),  # FastAPI's defaults: it configures
    ],
    ids=["nothing", "tracer-from-env", "meter-from-env", "fastapi-auto-configure"],
)
def test_a_serving_process_keeps_the_signals_it_has_a_provider_for(
    env: dict[str, str], expected: dict[str, bool]
) -> None:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OTEL_") and k != "FASTAPI_OTEL_AUTO_CONFIGURE"
    }
    done = subprocess.run(
        [sys.executable, "-c", SERVING],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**clean, **env},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == expected


VERSION = {
    "name": "support",
    "version": 4,
    "type": "text",
    "syntax": "mustache",
    "template": "Hello {{name}}",
    "config": {},
    "created_at": "2024-01-01T00:00:00Z",
    "hash": "abc",
    "labels": ["production"],
    "resolved_label": "production",
}


def test_sdk_spans(spans: InMemorySpanExporter) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=VERSION))
    with (
        PromptVaultClient("http://pv.test", transport=transport) as pv,
        APP.start_as_current_span("handle-request"),
    ):
        assert pv.render("support", {"name": "Ada"}) == "Hello Ada"
        pv.get("support")
        pv.build("support", {"name": "Ada"})
    resolves = _named(spans, "promptvault.resolve")  # pv.get, and the one build makes
    assert resolves and all(s.attributes["promptvault.prompt.version"] == 4 for s in resolves)
    assert resolves[0].attributes["promptvault.prompt.label"] == "production"
    assert _named(spans, "promptvault.build")[0].attributes["promptvault.prompt.hash"] == "abc"
    assert len(_named(spans, "promptvault.render")) == 1


NO_OTEL = textwrap.dedent(
    """
    import sys

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ImportError(f"blocked: {{name}}")
            return None

    sys.meta_path.insert(0, Block())
    import importlib.util
    importlib.util.find_spec = lambda name, *a: None if name.startswith("opentelemetry") else (
        importlib.machinery.PathFinder.find_spec(name))
    import httpx
    from promptvault.client import PromptVaultClient

    VERSION = {version!r}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=VERSION))
    pv = PromptVaultClient("http://pv.test", transport=transport)
    print(pv.render("support", {{"name": "Ada"}}))
    print(sorted(vars(pv).keys() & {{"get", "render", "build"}}))
    print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
    """
)


def test_without_opentelemetry_nothing_is_imported_or_wrapped() -> None:
    script = NO_OTEL.format(version=VERSION)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["Hello Ada", "[]", "[]"]


def test_async_sdk_spans(spans: InMemorySpanExporter) -> None:
    import asyncio

    from promptvault.client import AsyncPromptVaultClient

    async def main() -> str:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json=VERSION))
        pv = AsyncPromptVaultClient("http://pv.test", transport=transport)
        try:
            with APP.start_as_current_span("handle-request"):
                return str(await pv.render("support", {"name": "Ada"}))
        finally:
            await pv.aclose()

    assert asyncio.run(main()) == "Hello Ada"
    (render,) = _named(spans, "promptvault.render")
    assert render.attributes["gen_ai.prompt.name"] == "support"


UNCONFIGURED = textwrap.dedent(
    """
    import httpx
    from promptvault.client import PromptVaultClient

    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={version!r}))
    pv = PromptVaultClient("http://pv.test", transport=transport)
    print(pv.render("support", {{"name": "Ada"}}))
    print(sorted(vars(pv).keys() & {{"get", "render", "build"}}))
    """
)


def test_api_installed_but_no_provider_set_wraps_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-c", UNCONFIGURED.format(version=VERSION)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["Hello Ada", "[]"]


def test_odd_references_still_answer_inside_a_trace(vault: Vault) -> None:
    with APP.start_as_current_span("handle-request"):
        for ref in ("support@\u00b2", "support@99999999999999999999999"):
            with pytest.raises(Exception) as err:
                vault.get(ref)
            assert not isinstance(err.value, ValueError)
