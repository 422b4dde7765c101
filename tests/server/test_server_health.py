"""Probes and metrics."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import text
from starlette.testclient import TestClient

from promptvault import Vault
from waiting import wait_until


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["current"] == ready.json()["head"]


def test_readyz_fails_when_schema_is_behind(client: TestClient, vault: Vault) -> None:
    with vault.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001_initial'"))
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["error"]["code"] == "unavailable"
    assert ready.json()["error"]["details"]["current"] == "0001_initial"


def test_readyz_fails_when_database_is_gone(client: TestClient, vault: Vault) -> None:
    vault.db.engine.dispose()
    original = vault.db.engine
    from sqlalchemy import create_engine

    vault.db.engine = create_engine("sqlite:////nonexistent-dir/for/sure/x.db")
    try:
        ready = client.get("/readyz")
    finally:
        vault.db.engine = original
    assert ready.status_code == 503 and ready.json()["error"]["code"] == "unavailable"


def test_metrics_count_routes_latency_and_cache(admin: TestClient, app: FastAPI) -> None:
    admin.post("/v1/prompts/a/b/versions", json={"template": "x"})
    # The server follows change events from its start; once it has heard of this push
    # (and dropped its cache for it, as for a change made elsewhere), the counts are fixed.
    newest = app.state.vault.events.last_id()
    wait_until(lambda: app.state.changes.last_id >= newest, what="the push's event")
    for _ in range(3):
        resolved = admin.get("/v1/prompts/a/b/resolve")
    admin.get("/v1/prompts/a/b/resolve", headers={"If-None-Match": resolved.headers["etag"]})
    admin.get("/v1/prompts/zzz/resolve")
    body = admin.get("/metrics").text
    route = 'route="/v1/prompts/{name}/resolve"'
    assert f'promptvault_http_requests_total{{method="GET",{route},status="200"}} 3' in body
    assert f'promptvault_http_requests_total{{method="GET",{route},status="304"}} 1' in body
    assert f'promptvault_http_requests_total{{method="GET",{route},status="404"}} 1' in body
    assert f'promptvault_http_request_duration_seconds_count{{method="GET",{route}}} 5' in body
    assert (
        f'promptvault_http_request_duration_seconds_bucket{{method="GET",{route},le="+Inf"}} 5'
        in body
    )
    assert 'promptvault_resolve_cache_total{outcome="hit"} 2' in body
    assert 'promptvault_resolve_cache_total{outcome="miss"} 1' in body
    assert 'promptvault_resolve_cache_total{outcome="not_modified"} 1' in body
    assert "/v1/prompts/a/b" not in body  # raw paths never become labels


def test_metrics_series_stay_bounded_whatever_methods_and_paths_clients_send(
    client: TestClient,
) -> None:
    def series() -> set[str]:
        text_ = client.get("/metrics").text
        return {line.rsplit(" ", 1)[0] for line in text_.splitlines() if not line.startswith("#")}

    for i in range(5):
        client.request(f"M{i}", "/v1/prompts")
        client.request(f"M{i}", f"/nowhere/{i}")
        client.get(f"/no/such/path/{i}")
    series()  # the scrape's own series exist from here on
    before = series()
    for i in range(5, 60):
        client.request(f"M{i}", "/v1/prompts")
        client.request(f"M{i}", f"/nowhere/{i}")
        client.get(f"/no/such/path/{i}")
    after = series()
    assert after == before  # 55 new methods and 110 new paths added no series
    body = client.get("/metrics").text
    assert 'method="other"' in body
    assert 'route="unmatched"' in body
    assert "M7" not in body and "/no/such" not in body
