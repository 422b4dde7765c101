"""The peer of ``bench/server.py``: a bare Starlette app answering resolve from a constant.

It returns the exact bytes the real server returned for the same request, so the comparison
isolates what promptvault adds (routing, auth, the Vault cache, metrics, error handling).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = os.environ.get("BENCH_BODY", "{}").encode()


async def resolve(request: Request) -> Response:
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/v1/prompts/{name:path}/resolve", resolve)])
