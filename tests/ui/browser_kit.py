"""What the browser tests share: a real ``promptvault serve`` on a loopback port, Chromium.

The fixtures are module-scoped (registered through ``conftest.py``): one server (fresh
SQLite database, fresh home) and one browser serve each test module; every test opens its
own browser context (own cookies) and uses its own prompts. Screenshots go to
``test-output/screenshots/``.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from promptvault.experiments.models import Experiment

CHROMIUM = os.environ.get("PROMPTVAULT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class Server:
    base: str
    home: Path
    admin_key: str
    viewer_key: str
    api: httpx.Client

    def push(self, name: str, **body: Any) -> dict[str, Any]:
        response = self.api.post(f"/v1/prompts/{name}/versions", json=body)
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    def labels(self, name: str) -> dict[str, int]:
        labels: dict[str, int] = self.api.get(f"/v1/prompts/{name}/labels").json()["labels"]
        return labels


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("ui-home")
    db = f"sqlite:///{home / 'ui.db'}"
    env = {**os.environ, "PROMPTVAULT_HOME": str(home), "PROMPTVAULT_DATABASE_URL": db}
    for var in ("PROMPTVAULT_URL", "PROMPTVAULT_API_KEY"):
        env.pop(var, None)
    port = _free_port()
    cmd = [sys.executable, "-m", "promptvault", "serve", "--port", str(port), "--db", db]
    proc = subprocess.Popen(
        [*cmd, "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read() if proc.stdout else ""
                raise AssertionError(f"server exited: {output}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.1)
        # The first start created an admin key and stored it in the home directory.
        admin_key = (home / "admin.key").read_text().strip()
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin_key}"})
        created = api.post("/v1/keys", json={"name": "viewer", "role": "viewer"})
        assert created.status_code == 201, created.text
        viewer_key = created.json()["key"]
        yield Server(base, home, admin_key, viewer_key, api)
        api.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Browser, server: Server) -> Iterator[Callable[..., Page]]:
    contexts: list[BrowserContext] = []

    def make(key: str | None = None, *, viewport: dict[str, int] = LAPTOP) -> Page:
        context = browser.new_context(viewport=viewport, base_url=server.base)  # type: ignore[arg-type]
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        if key is not None:
            sign_in(page, key)
        return page

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Page, key: str) -> None:
    page.goto("/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Prompts", exact=True)).to_be_visible()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def demo_experiment(
    server: Server, name: str, prompt: str, *, days: int = 7, broken: bool = False
) -> None:
    """A demo-like experiment: 90/10 on a two-version prompt, outcomes over ``days`` days.

    ``broken`` reports about as many units of each variant whatever the weights say, by
    losing most of control's (a split that a bug in the application broke).
    """
    server.push(prompt, template="Hello {{name}}, how can I help?", message="v1")
    server.push(prompt, template="Hi {{name}}! Happy to help.", message="friendlier")
    assert server.api.put(f"/v1/prompts/{prompt}/labels/production", json={"version": 1})
    created = server.api.post(
        "/v1/experiments",
        json={
            "name": name,
            "prompt": prompt,
            "description": "Does a friendlier greeting resolve more tickets?",
            "variants": [
                {"name": "control", "version": 1, "weight": 90},
                {"name": "friendly", "version": 2, "weight": 10},
            ],
            "primary_metric": {"name": "resolved", "kind": "binary"},
            "guardrails": [{"name": "handle_time", "kind": "continuous", "direction": "lower"}],
        },
    )
    assert created.status_code == 201, created.text
    assert server.api.post(f"/v1/experiments/{name}/start").status_code == 200
    rng = random.Random(3)
    now = datetime.now(UTC)
    events: list[dict[str, Any]] = []
    exp = Experiment.model_validate(server.api.get(f"/v1/experiments/{name}").json())
    for i in range(1500):
        unit, at = f"user-{i}", (now - timedelta(days=i % days)).isoformat()
        lost = broken and exp.assigner().variant(unit) == "control" and i % 9 != 0
        if lost:
            continue
        events.append({"type": "exposure", "experiment": name, "unit_id": unit, "at": at})
        resolved = float(rng.random() < 0.33)
        events.append(
            {
                "type": "outcome",
                "experiment": name,
                "unit_id": unit,
                "metric": "resolved",
                "value": resolved,
                "at": at,
            }
        )
        events.append(
            {
                "type": "outcome",
                "experiment": name,
                "unit_id": unit,
                "metric": "handle_time",
                "value": round(rng.gauss(240, 60), 1),
                "at": at,
            }
        )
    sent = server.api.post("/v1/events", json={"events": events, "key": f"{name}-seed"})
    assert sent.status_code == 200 and sent.json()["accepted"] == len(events), sent.text


UNLABELLED = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button, a[href]'))
  .filter(el => !el.closest('template') && el.offsetParent !== null)
  .filter(el => {
    const name = (el.labels && el.labels.length ? el.labels[0].textContent : '')
      || el.getAttribute('aria-label') || el.textContent || el.getAttribute('title') || '';
    return !name.trim();
  })
  .map(el => el.outerHTML.slice(0, 80))"""
