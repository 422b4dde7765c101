"""Liveness, readiness and metrics (no key needed: probes and scrapers have none)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from promptvault.server.deps import MetricsDep, VaultDep
from promptvault.server.errors import ErrorEnvelope, error_response

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


def _check(vault: Any) -> dict[str, Any]:
    # Reading the revision opens a connection, so it also proves the database answers.
    state = vault.schema_state()
    return {"current": state.current, "head": state.head}


@router.get(
    "/readyz",
    responses={503: {"model": ErrorEnvelope, "description": "Database down or not migrated"}},
)
async def readyz(vault: VaultDep) -> JSONResponse:
    """The database answers and its schema is at this version's newest migration."""
    try:
        revisions = await run_in_threadpool(_check, vault)
    except Exception as exc:  # any failure to reach the database means "not ready"
        return error_response(
            "unavailable",
            f"database unreachable: {type(exc).__name__}",
            {"database": vault.db.safe_url},
            status=503,
        )
    if revisions["current"] != revisions["head"]:
        return error_response(
            "unavailable",
            "database schema is not current: run `promptvault db upgrade`",
            {"database": vault.db.safe_url, **revisions},
            status=503,
        )
    return JSONResponse({"status": "ready", "database": vault.db.dialect, **revisions})


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request, registry: MetricsDep) -> PlainTextResponse:
    """Prometheus text: requests and latency per route, resolve cache outcomes."""
    return PlainTextResponse(
        registry.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
