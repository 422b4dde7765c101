"""An open prompt page announces label moves made elsewhere, live (EventSource, session)."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from .browser_kit import Server, shot


def test_an_open_prompt_page_shows_a_move_made_elsewhere(
    server: Server, new_page: Callable[..., Page]
) -> None:
    server.push("live/greeting", template="Hello {{name}}")
    server.push("live/greeting", template="Hi {{name}}")
    server.push("live/greeting-other", template="Other")  # same prefix: not announced
    page = new_page(server.viewer_key)
    page.goto("/prompts/live/greeting")
    banner = page.locator("#live-change")
    expect(banner).to_be_hidden()
    moved = server.api.put("/v1/prompts/live/greeting-other/labels/staging", json={"version": 1})
    assert moved.status_code == 200
    moved = server.api.put("/v1/prompts/live/greeting/labels/production", json={"version": 2})
    assert moved.status_code == 200
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("production moved to v2 by admin")
    shot(page, "prompt-live-change")
    page.get_by_role("link", name="Reload").click()
    expect(page.locator("#shown-title")).to_contain_text("version 2")
