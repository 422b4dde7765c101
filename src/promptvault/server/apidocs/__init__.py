"""Interactive API docs at ``/docs``, served entirely from the package.

FastAPI's default page loads Swagger UI from a CDN, so it is blank without internet access
and needs a Content-Security-Policy open to that host. Here the page, the Swagger UI bundle
(vendored, see ``README.md`` in this folder) and the start-up script all come from this
server, so ``/docs`` works offline under a policy that names no other host.
"""

from __future__ import annotations

from html import escape
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["DOCS_CSP", "DOCS_STATIC", "SWAGGER_UI_VERSION", "mount_docs"]

SWAGGER_UI_VERSION = "5.35.0"
DOCS_STATIC = "/static/docs"

# Swagger UI sets inline styles from its scripts; everything else is as strict as the UI.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API docs</title>
<link rel="icon" type="image/png" href="{static}/favicon-32x32.png">
<link rel="stylesheet" href="{static}/swagger-ui.css?v={version}">
</head>
<body data-openapi-url="{openapi}">
<div id="swagger-ui"></div>
<script src="{static}/swagger-ui-bundle.js?v={version}"></script>
<script src="{static}/docs-init.js?v={version}"></script>
</body>
</html>
"""


def mount_docs(app: FastAPI, *, path: str = "/docs") -> None:
    """Serve the docs page at ``path`` and its assets under ``DOCS_STATIC``."""
    openapi_url = app.openapi_url or "/openapi.json"
    html = _PAGE.format(
        title=escape(app.title),
        static=DOCS_STATIC,
        version=SWAGGER_UI_VERSION,
        openapi=escape(openapi_url),
    )

    async def docs() -> HTMLResponse:
        return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_CSP})

    app.add_api_route(path, docs, methods=["GET"], include_in_schema=False)
    folder = resources.files("promptvault.server.apidocs") / "assets"
    app.mount(DOCS_STATIC, StaticFiles(directory=str(folder)), name="api-docs-static")
