"""The SDK drops idle connections before the server does, so a reused one is never stale."""

from __future__ import annotations

import asyncio

from promptvault import Settings
from promptvault.client import AsyncPromptVaultClient, PromptVaultClient


def _expiry(http: object) -> float:
    pool = http._transport._pool  # type: ignore[attr-defined]
    return float(pool._keepalive_expiry)


def test_idle_connections_expire_before_the_server_keep_alive() -> None:
    server_keep_alive = Settings().keep_alive_timeout
    with PromptVaultClient("http://127.0.0.1:9", api_key="pv_x") as client:
        assert _expiry(client._http) < server_keep_alive

    async def run() -> float:
        async with AsyncPromptVaultClient("http://127.0.0.1:9", api_key="pv_x") as client:
            return _expiry(client._http)

    assert asyncio.run(run()) < server_keep_alive
