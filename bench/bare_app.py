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


def main() -> None:
    """Serve ``app`` with N workers on the same kind of socket ``promptvault serve`` uses."""
    import argparse

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from promptvault.cli.serve import listening_socket

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = uvicorn.Config(
        "bare_app:app", port=args.port, workers=args.workers, log_level="warning"
    )
    if config.workers > 1:
        Multiprocess(config, sockets=[listening_socket(config)]).run()
    else:
        uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
