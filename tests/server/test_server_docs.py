"""``/docs`` is served from the package: no external host, works offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from starlette.testclient import TestClient
from tests.server.live import live_server
from tests.ui.browser_kit import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


def test_docs_page_references_no_external_host(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs, page.text
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), ref
    assert "http://" not in page.text and "https://" not in page.text
    csp = page.headers["content-security-policy"]
    assert "http" not in csp and "script-src 'self'" in csp
    assert "<script>" not in page.text  # no inline script: the policy allows none
    for ref in refs:
        asset = client.get(ref)
        assert asset.status_code == 200, ref
    assert client.get("/redoc").status_code == 404  # it would load from a CDN


def test_swagger_licence_ships_with_the_assets(client: TestClient) -> None:
    licence = client.get("/static/docs/LICENSE")
    assert licence.status_code == 200 and "Apache License" in licence.text


@pytest.mark.browser
def test_docs_render_in_a_browser_with_no_internet(tmp_path: Path) -> None:
    home = tmp_path / "home-docs"
    home.mkdir()
    outside: list[str] = []
    problems: list[str] = []
    with live_server(home, "--log-level", "warning") as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()

            def only_loopback(route: object) -> None:
                url = route.request.url  # type: ignore[attr-defined]
                if url.startswith(server.base):
                    route.continue_()  # type: ignore[attr-defined]
                else:
                    outside.append(url)
                    route.abort()  # type: ignore[attr-defined]

            context.route("**/*", only_loopback)
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.goto(f"{server.base}/docs")
            expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
            expect(page.get_by_text("/v1/prompts/{name}/resolve").first).to_be_visible()
        finally:
            browser.close()
    assert outside == []
    assert problems == []
