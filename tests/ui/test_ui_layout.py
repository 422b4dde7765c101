"""Every page at 1280 and 390 px: screenshots, no sideways scrolling, accessibility.

One module server holds a text prompt, a chat prompt with long messages, an experiment, a
collection, a change request and a long audit log; each page is loaded at both widths,
photographed into ``test-output/screenshots/layout-<page>-<width>.png``, checked for
``document.documentElement.scrollWidth <= innerWidth`` and, at 1280 px, audited with
axe-core (vendored in ``tests/ui/vendor/``: no serious or critical violation) and walked
with the Tab key (every control reachable, each with a visible focus indicator).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from .browser_kit import LAPTOP, PHONE, SHOTS, UNLABELLED, Server, demo_experiment, sign_in

pytestmark = pytest.mark.browser

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
MAX_TABS = 60  # Tab presses per page; pages with more controls are checked that far

# Serious and critical violations of the WCAG A/AA rules and best practices, as
# "rule: target" lines (axe runs in the page; nothing leaves the machine).
_AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '));
}"""

# The focused element, whether it is in view, and whether anything shows the focus.
_FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
    || (s.boxShadow && s.boxShadow !== 'none');
  const seen = document.querySelectorAll('[data-pv-tab]').length;
  if (!el.dataset.pvTab) el.dataset.pvTab = String(seen);
  return {id: el.dataset.pvTab, html: el.outerHTML.slice(0, 80), visible: ring};
}"""

# Controls a keyboard user should reach: visible, enabled, not inside a closed disclosure.
_CONTROLS = """() => Array.from(document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary'))
  .filter(el => !el.disabled && el.offsetParent !== null && el.tabIndex >= 0)
  .filter(el => { const d = el.closest('details'); return !d || d.open || el.closest('summary'); })
  .filter((el, i, all) => el.type !== 'radio'  // Tab enters a radio group once
    || all.findIndex(o => o.type === 'radio' && o.name === el.name) === i).length"""

LONG = "A customer message that goes on and on about an order that did not arrive. " * 4


@dataclass(frozen=True)
class Shown:
    """A page to load (and what to do on it before the picture)."""

    label: str
    url: str
    action: Callable[[Page], None] | None = None
    signed_in: bool = True


def _render_playground(page: Page) -> None:
    page.locator("textarea[name=var_question]").fill(LONG)
    page.locator("textarea[name=var_history]").fill(f"user: {LONG}\nassistant: Sorry!")
    page.get_by_role("button", name="Render").click()
    expect(page.locator("#openai-json")).to_be_visible()


def _editor_checked(page: Page) -> None:
    expect(page.locator("#check-status")).to_contain_text("No problems found")


PAGES = [
    Shown("login", "/login", signed_in=False),
    Shown("list", "/"),
    Shown("prompt", "/prompts/layout/greeting"),
    Shown("prompt-chat", "/prompts/layout/chat"),
    Shown("editor-new", "/new"),
    Shown("editor", "/edit/layout/greeting", _editor_checked),
    Shown("editor-chat", "/edit/layout/chat", _editor_checked),
    Shown("diff", "/diff/layout/greeting?a=1&b=2"),
    Shown("diff-chat", "/diff/layout/chat?a=1&b=2"),
    Shown("playground", "/play/layout/chat"),
    Shown("playground-result", "/play/layout/chat", _render_playground),
    Shown("promote", "/promote/layout/greeting?version=2&label=production"),
    Shown("rollback", "/rollback/layout/chat?label=production"),
    Shown("audit", "/audit"),
    Shown("experiments", "/experiments"),
    Shown("experiment-new", "/experiments/+new?prompt=layout/exp"),
    Shown("experiment", "/experiments/layout-tone"),
    Shown("experiment-stop", "/experiments/layout-tone/stop"),
    Shown("experiment-conclude", "/experiments/layout-tone/conclude?winner=friendly"),
    Shown("collections", "/examples"),
    Shown("collection", "/examples/layout-shots"),
    Shown("example-edit", "/examples/layout-shots/examples/1"),
    Shown("new-label", "/promote/layout/greeting?version=2&label=%2Bnew"),
    Shown("keys", "/keys"),
    Shown("requests", "/requests"),
    Shown("request", "/requests/1"),
    Shown("not-found", "/prompts/layout/nothing-here"),
]


@pytest.fixture(scope="module")
def seeded(server: Server) -> Server:
    server.push("layout/sign", template="-- The {{company}} team", message="signature")
    server.push(
        "layout/greeting",
        template="Hello {{name}}!\n{{#vip}}Thanks for being a VIP.{{/vip}}\n{{> layout/sign}}",
        config={"model": "gpt-4o", "temperature": 0.7, "max_tokens": 300},
        description="Greets a customer " + "who opened a ticket " * 8,
        tags=["support", "a-very-long-tag-" * 5],
        message="first draft",
    )
    server.push(
        "layout/greeting",
        template="Hello dear {{name}}!\n{{#vip}}Thanks for being a VIP.{{/vip}}\n{{> layout/sign}}",
        config={"model": "gpt-4o", "temperature": 0.5, "max_tokens": 300},
        message="warmer " + "and a long commit message " * 6,
        labels=["staging"],
    )
    chat = [
        {"role": "system", "content": "You answer for Acme support. " + LONG},
        {"type": "placeholder", "name": "history"},
        {"role": "user", "content": "{{question}}"},
    ]
    server.push("layout/chat", template=chat, config={"model": "gpt-4"}, message="chat")
    chat[0] = {"role": "system", "content": "You answer for Acme support, kindly. " + LONG}
    server.push("layout/chat", template=chat, config={"model": "gpt-4"}, message="kinder")
    moved = server.api.put("/v1/prompts/layout/chat/labels/production", json={"version": 2})
    assert moved.status_code == 200, moved.text
    demo_experiment(server, "layout-tone", "layout/exp")
    created = server.api.post(
        "/v1/collections",
        json={"name": "layout-shots", "prompt": "layout/chat", "query_template": "{{question}}"},
    )
    assert created.status_code == 201, created.text
    added = server.api.post(
        "/v1/collections/layout-shots/examples",
        json={
            "examples": [
                {"input": LONG, "output": "A short reply.", "category": "orders"},
                {"input": "Short question?", "output": LONG, "quality": 0.4},
            ]
        },
    )
    assert added.status_code == 201, added.text
    asked = server.api.post(
        "/v1/requests",
        json={"prompt": "layout/greeting", "label": "production", "version": 2,
              "comment": "warmer greeting, " + LONG},
    )  # fmt: skip
    assert asked.status_code == 201, asked.text
    commented = server.api.post(
        "/v1/comments", json={"prompt": "layout/greeting", "request": 1, "body": LONG}
    )
    assert commented.status_code == 201, commented.text
    return server


@pytest.fixture(scope="module")
def tabs(browser: Browser, seeded: Server) -> Iterator[dict[str, dict[str, Page]]]:
    """One signed-in and one signed-out tab per width, shared by the page tests."""
    contexts = []
    tabs: dict[str, dict[str, Page]] = {}
    for device, viewport in (("1280", LAPTOP), ("390", PHONE)):
        for who in ("in", "out"):
            # bypass_csp: axe is injected as an inline script (the pages allow none)
            context = browser.new_context(  # type: ignore[arg-type]
                viewport=viewport, base_url=seeded.base, bypass_csp=True
            )
            context.set_default_timeout(10_000)
            contexts.append(context)
            tab = context.new_page()
            if who == "in":
                sign_in(tab, seeded.admin_key)
            tabs.setdefault(device, {})[who] = tab
    yield tabs
    for context in contexts:
        context.close()


@pytest.mark.parametrize("shown", PAGES, ids=[p.label for p in PAGES])
def test_page_fits_a_phone_and_is_photographed(
    tabs: dict[str, dict[str, Page]], shown: Shown
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for device in ("1280", "390"):
        page = tabs[device]["in" if shown.signed_in else "out"]
        page.goto(shown.url)
        if shown.action is not None:
            shown.action(page)
        page.screenshot(path=str(SHOTS / f"layout-{shown.label}-{device}.png"), full_page=True)
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{shown.label} scrolls sideways at {device} px: {widths}"
        assert page.evaluate(UNLABELLED) == [], shown.label
        if device == "1280":
            _accessible(page, shown.label)
    assert (SHOTS / f"layout-{shown.label}-390.png").stat().st_size > 0


def _accessible(page: Page, label: str) -> None:
    """No serious or critical axe violation; Tab reaches controls, each visibly focused."""
    page.add_script_tag(content=AXE)
    violations = page.evaluate(_AXE_RUN)
    assert violations == [], f"{label}: {json.dumps(violations, indent=1)}"
    controls = min(page.evaluate(_CONTROLS), MAX_TABS)
    seen: set[str] = set()
    for _ in range(controls + 3):  # from wherever focus starts, around past the end
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUS)
        if focused is None:
            continue
        seen.add(focused["id"])
        assert focused["visible"], f"{label}: no visible focus on {focused['html']}"
    assert len(seen) >= controls - 1, f"{label}: Tab reached {len(seen)} of {controls}"


def test_diff_is_inline_on_a_phone_and_side_by_side_on_a_laptop(
    tabs: dict[str, dict[str, Page]],
) -> None:
    phone = tabs["390"]["in"]
    phone.goto("/diff/layout/greeting?a=1&b=2")
    expect(phone.locator("table.diff-inline").first).to_be_visible()
    expect(phone.locator("table.diff-split").first).to_be_hidden()
    laptop = tabs["1280"]["in"]
    laptop.goto("/diff/layout/greeting?a=1&b=2")
    expect(laptop.locator("table.diff-split").first).to_be_visible()
    expect(laptop.locator("table.diff-inline").first).to_be_hidden()
    laptop.goto("/diff/layout/greeting?a=1&b=2&view=inline")  # a choice made is kept
    expect(laptop.locator("table.diff-inline").first).to_be_visible()
    expect(laptop.locator("table.diff-split")).to_have_count(0)


def test_audit_on_a_phone_shows_target_and_details_in_compact_rows(
    tabs: dict[str, dict[str, Page]],
) -> None:
    page = tabs["390"]["in"]
    page.goto("/audit?target=prompt:layout/chat")
    row = page.locator("table.audit tbody tr").first
    expect(row.locator("td.target")).to_be_visible()
    expect(row.locator("td.target")).to_contain_text("prompt:layout/chat")
    expect(row.locator("td.details")).to_be_visible()
    heights = page.evaluate(
        "Array.from(document.querySelectorAll('table.audit tbody tr'))"
        ".map(r => r.getBoundingClientRect().height)"
    )
    assert heights and max(heights) < 200, heights  # no tall blank rows
