"""The web UI in a real Chromium against a real ``promptvault serve`` on a loopback port.

One server (fresh SQLite database, fresh home) and one browser serve the whole module; every
test opens its own browser context (own cookies) and uses its own prompts. Screenshots of
the main pages at laptop and phone widths go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from .browser_kit import (
    LAPTOP,
    PHONE,
    SHOTS,
    UNLABELLED,
    Server,
    demo_experiment,
    shot,
    sign_in,
)

pytestmark = pytest.mark.browser


def test_sign_in_create_edit_diff_promote_roll_back(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page(server.admin_key)
    page.get_by_role("link", name="New prompt").click()
    page.get_by_label("Name").fill("flow/welcome")
    template = page.locator("#template")
    template.fill("Hello {{name}, welcome")
    status = page.locator("#check-status")
    expect(status).to_contain_text("line 1, column")
    expect(template).to_have_class(re.compile("invalid"))
    shot(page, "editor-error-laptop")
    template.fill("Hello {{name}}, welcome to {{place}}!")
    expect(status).to_contain_text("No problems found")
    expect(page.locator("#check-vars")).to_contain_text("place")
    page.locator("#sample").fill('{"name": "Ada", "place": "Paris"}')
    expect(page.locator("#preview")).to_contain_text("Hello Ada, welcome to Paris!")
    page.get_by_label("Commit message").fill("first version")
    page.get_by_role("button", name="Save new version").click()
    expect(page.locator(".flash")).to_contain_text("Saved version 1 of flow/welcome")

    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Commit message").fill("nothing really")
    page.get_by_role("button", name="Save new version").click()
    expect(page.locator("#save-notice")).to_contain_text("identical to version 1")

    page.locator("#template").fill("Hello dear {{name}}, welcome to {{place}}!")
    page.get_by_label("Commit message").fill("warmer")
    page.get_by_role("button", name="Save new version").click()
    expect(page.locator(".flash")).to_contain_text("Saved version 2")

    page.get_by_role("link", name="Compare").click()
    expect(page.locator("table.diff-split mark")).to_contain_text("dear")
    page.get_by_label("Inline").check()
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("table.diff-inline tr.d-ins mark")).to_contain_text("dear")

    page.goto("/prompts/flow/welcome")
    page.get_by_label("Label for version 2").select_option("production")
    page.get_by_role("row", name=re.compile("v2")).get_by_role("button", name="Promote").click()
    expect(page.get_by_role("heading", name="Point production at version 2?")).to_be_visible()
    expect(page.locator(".diff mark").first).to_contain_text("dear")
    page.get_by_role("button", name="Move production to v2").click()
    expect(page.locator(".flash")).to_contain_text("production now points at version 2")
    assert server.labels("flow/welcome")["production"] == 2

    page.get_by_role("link", name="Roll back to v1: production").click()
    expect(page.get_by_role("heading", name="Roll back production?")).to_be_visible()
    page.get_by_role("button", name="Roll back production to v1").click()
    expect(page.locator(".flash")).to_contain_text("rolled back from version 2 to 1")
    assert server.labels("flow/welcome")["production"] == 1


def test_chat_editor_adds_removes_and_reorders_messages(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page(server.admin_key)
    page.goto("/new")
    page.get_by_label("Name").fill("flow/chat")
    page.get_by_label("Chat messages").check()
    rows = page.locator("#chat-rows > li")
    expect(rows).to_have_count(1)
    rows.nth(0).locator("textarea").fill("Answer about {{topic}}.")
    page.get_by_role("button", name="+ Add message").click()
    rows.nth(1).locator("select").select_option("system")
    rows.nth(1).locator("textarea").fill("You are terse.")
    page.get_by_role("button", name="+ Add placeholder").click()
    rows.nth(2).locator("input[name=m_content]").fill("history")
    page.get_by_role("button", name="+ Add message").click()
    rows.nth(3).locator("textarea").fill("to be removed")
    page.get_by_role("button", name="Remove item 4").click()
    expect(rows).to_have_count(3)
    page.get_by_role("button", name="Move item 2 up").click()  # system first
    page.get_by_role("button", name="Move item 3 up").click()  # placeholder second
    expect(page.locator("#check-status")).to_contain_text("No problems found")
    page.get_by_label("Commit message").fill("chat prompt")
    page.get_by_role("button", name="Save new version").click()
    expect(page.locator(".flash")).to_contain_text("Saved version 1")
    template = server.api.get("/v1/prompts/flow/chat/resolve").json()["template"]
    assert template == [
        {"role": "system", "content": "You are terse."},
        {"type": "placeholder", "name": "history"},
        {"role": "user", "content": "Answer about {{topic}}."},
    ]


def test_playground_renders_and_copies_the_request(
    server: Server, new_page: Callable[..., Page]
) -> None:
    server.push(
        "flow/ask",
        template=[
            {"role": "system", "content": "You help customers of {{company}}."},
            {"role": "user", "content": "{{question}}"},
        ],
        config={"model": "gpt-4o", "temperature": 0.2},
        variables_schema={
            "type": "object",
            "properties": {
                "company": {"enum": ["Acme", "Globex"]},
                "question": {"type": "string"},
            },
        },
        message="init",
    )
    page = new_page(server.admin_key)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/play/flow/ask")
    page.get_by_label("company").select_option("Globex")
    page.get_by_label("question").fill("Where is my order?")
    page.get_by_role("button", name="Render").click()
    expect(page.locator(".result .messages")).to_contain_text("You help customers of Globex.")
    request = json.loads(page.locator("#openai-json").inner_text())
    assert request["model"] == "gpt-4o"
    assert request["messages"][-1] == {"role": "user", "content": "Where is my order?"}
    anthropic = json.loads(page.locator("#anthropic-json").inner_text())
    assert anthropic["system"] == "You help customers of Globex."
    page.locator("[data-copy=openai-json]").click()
    expect(page.locator("[data-copy=openai-json]")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert json.loads(copied) == request
    shot(page, "playground-result-laptop")


def test_viewer_sees_no_edit_buttons_and_forged_posts_are_refused(
    server: Server, new_page: Callable[..., Page]
) -> None:
    server.push("flow/readonly", template="one", message="1")
    server.push("flow/readonly", template="two", message="2", labels=["staging"])
    page = new_page(server.viewer_key)
    page.goto("/prompts/flow/readonly")
    expect(page.get_by_role("heading", name="Version history")).to_be_visible()
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Promote")).to_have_count(0)
    expect(page.get_by_text("Roll back")).to_have_count(0)
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    forged = page.request.post(
        "/promote/flow/readonly",
        form={"csrf": token, "label": "staging", "version": "1"},
        max_redirects=0,
    )
    assert forged.status == 403
    edit = page.request.post(
        "/edit/flow/readonly", form={"csrf": token, "template": "x", "message": "m"}
    )
    assert edit.status == 403
    assert server.labels("flow/readonly") == {"production": 1, "staging": 2}
    assert page.goto("/edit/flow/readonly").status == 403  # type: ignore[union-attr]


def test_posts_without_csrf_token_or_from_another_site_are_refused(
    server: Server, new_page: Callable[..., Page]
) -> None:
    server.push("flow/csrf", template="one", message="1")
    server.push("flow/csrf", template="two", message="2")
    page = new_page(server.admin_key)
    page.goto("/prompts/flow/csrf")
    missing = page.request.post(
        "/promote/flow/csrf", form={"label": "production", "version": "2"}, max_redirects=0
    )
    assert missing.status == 403
    # A page on another site submits a form to the server: the SameSite=Strict cookie stays
    # home, so the request arrives signed out (and without a token it would fail anyway).
    attacker = (
        f'<form id="f" method="post" action="{server.base}/promote/flow/csrf">'
        '<input name="label" value="production"><input name="version" value="2"></form>'
        "<script>document.getElementById('f').submit()</script>"
    )
    page.context.route(
        "http://attacker.test/**",
        lambda route: route.fulfill(body=attacker, content_type="text/html"),
    )
    page.goto("http://attacker.test/")
    page.wait_for_url(re.compile(r"/login"))
    assert server.labels("flow/csrf") == {"production": 1}


PAYLOADS = {
    "script": "<script>window.__xss=1;alert(1)</script>",
    "img": '<img src=x onerror="window.__xss=2;alert(2)">',
    "break": '</textarea></pre><svg onload="window.__xss=3">',
    "attr": '" autofocus onfocus="window.__xss=4" x="',
    "mustache": "{{7*7}} {{constructor.constructor('window.__xss=5')()}}",
}


def test_xss_payloads_stay_inert(server: Server, new_page: Callable[..., Page]) -> None:
    every = " ".join(PAYLOADS.values())
    name = "xss/-_.payload"  # prompt names allow [A-Za-z0-9._/-] only
    server.push(
        name,
        template="Hi {{name}} " + " ".join(v for k, v in PAYLOADS.items() if k != "mustache"),
        description=every,
        tags=[PAYLOADS["script"], PAYLOADS["mustache"]],
        config={"model": PAYLOADS["attr"]},
        message=every,
    )
    server.push(
        name,
        template=[
            {"role": "system", "content": PAYLOADS["break"] + " {{name}}"},
            {"role": "user", "content": PAYLOADS["script"] + " {{{raw}}}"},
        ],
        message=PAYLOADS["img"],
        labels=["staging"],
    )
    created = server.api.post("/v1/keys", json={"name": PAYLOADS["img"], "role": "admin"})
    assert created.status_code == 201
    page = new_page(created.json()["key"])
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    def inert(url: str) -> None:
        page.goto(url)
        assert page.evaluate("window.__xss") is None, url
        assert dialogs == [], url

    for url in (
        "/",
        f"/prompts/{name}",
        f"/prompts/{name}?v=1",
        f"/diff/{name}?a=1&b=2",
        f"/diff/{name}?a=1&b=2&view=inline",
        f"/promote/{name}?version=2&label=production",
        "/audit",
    ):
        inert(url)
    expect(page.get_by_text(PAYLOADS["mustache"]).first).to_be_visible()  # shown, not run
    # The editor's live check puts the payload into the preview through the page script.
    inert(f"/edit/{name}")
    page.locator("#sample").fill(json.dumps({"name": PAYLOADS["script"], "raw": every}))
    expect(page.locator("#preview")).to_contain_text("<script>window.__xss=1")
    assert page.evaluate("window.__xss") is None and dialogs == []
    # The playground renders variable values as text.
    inert(f"/play/{name}?v=2")
    page.locator("textarea[name=var_name]").fill(PAYLOADS["img"])
    page.locator("textarea[name=var_raw]").fill(PAYLOADS["script"])
    page.get_by_role("button", name="Render").click()
    expect(page.locator(".result .messages")).to_contain_text("<img src=x")
    assert page.evaluate("window.__xss") is None and dialogs == []
    shot(page, "xss-playground-laptop")


def test_main_pages_at_laptop_and_phone_width(
    server: Server, new_page: Callable[..., Page]
) -> None:
    # The partial exists before the prompt that includes it: pushes refuse unknown partials.
    server.push("shared/sign", template="-- The {{company}} team", message="signature")
    server.push(
        "support/greeting",
        template="Hello {{name}}!\n{{#vip}}Thanks for being a VIP.{{/vip}}\n{{> shared/sign}}",
        config={"model": "gpt-4o", "temperature": 0.7, "max_tokens": 300},
        description="Greets a customer who opened a ticket " + "x" * 120,
        tags=["support", "a-very-long-tag-" * 5],
        message="first draft",
    )
    server.push(
        "support/greeting",
        template="Hello dear {{name}}!\n{{#vip}}Thanks for being a VIP.{{/vip}}\n{{> shared/sign}}",
        config={"model": "gpt-4o", "temperature": 0.5, "max_tokens": 300},
        message="warmer",
        labels=["staging"],
    )
    pages = {
        "list": "/",
        "prompt": "/prompts/support/greeting",
        "editor": "/edit/support/greeting",
        "diff": "/diff/support/greeting?a=1&b=2",
        "playground": "/play/support/greeting",
        "audit": "/audit",
    }
    for device, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        page = new_page(viewport=viewport)
        page.goto("/login")
        shot(page, f"login-{device}")
        sign_in(page, server.admin_key)
        for label, url in pages.items():
            page.goto(url)
            if label == "editor":
                expect(page.locator("#check-status")).to_contain_text("No problems found")
                expect(page.locator("#preview pre")).to_be_visible()
            shot(page, f"{label}-{device}")
            # Usable at this width: no sideways scrolling of the page itself, and every
            # control has a name for keyboard and screen-reader users.
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{label} scrolls sideways on {device}"
            if label == "list":  # long names, tags and descriptions wrap: all columns show
                table_overflow = page.evaluate(
                    "(() => { const w = document.querySelector('.table-wrap');"
                    " return w.scrollWidth - w.clientWidth; })()"
                )
                assert table_overflow <= 0, f"the prompt table scrolls on {device}"
            assert page.evaluate(UNLABELLED) == [], label
    assert {p.name for p in SHOTS.glob("*-phone.png")} >= {f"{k}-phone.png" for k in pages}


def test_keyboard_reaches_the_main_controls(server: Server, new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.goto("/login")  # the key field has the focus: type, press Enter
    page.keyboard.type(server.viewer_key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Prompts", exact=True)).to_be_visible()
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    seen = []
    for _ in range(8):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert "Prompts" in seen and "Audit log" in seen and "Sign out" in seen


# --- experiments and few-shot examples ------------------------------------------------------


def _usable_at_width(page: Page, label: str) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{label} scrolls sideways"
    assert page.evaluate(UNLABELLED) == [], label


def test_experiment_report_chart_and_stop_as_admin(
    server: Server, new_page: Callable[..., Page]
) -> None:
    demo_experiment(server, "greeting-tone", "exp/greeting")
    page = new_page(server.admin_key)
    page.get_by_role("link", name="Experiments", exact=True).click()
    page.get_by_role("link", name="greeting-tone").click()
    expect(page.get_by_role("heading", name="greeting-tone")).to_be_visible()
    expect(page.locator("#srm-status")).to_contain_text("Split check passed")
    expect(page.locator("#mode-note")).to_contain_text("Mode: sequential")
    table = page.locator("table.report-table").first
    expect(table.get_by_role("row", name=re.compile("friendly"))).to_contain_text("%")
    chart = page.locator("svg.chart-wide").first
    expect(chart).to_be_visible()
    assert chart.locator("circle.dot").count() == 2 * 7  # two variants x seven days
    box = chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 200
    shot(page, "experiment-laptop")
    page.get_by_role("link", name="Fixed horizon").click()
    expect(page.locator("#mode-note")).to_contain_text("Mode: fixed horizon")

    page.get_by_role("link", name="Stop…").click()
    expect(page.get_by_role("heading", name="Stop experiment greeting-tone?")).to_be_visible()
    page.get_by_label("Reason").fill("enough data for the <b>team</b> review")
    shot(page, "experiment-stop-laptop")
    page.get_by_role("button", name="Stop experiment").click()
    expect(page.locator(".flash")).to_contain_text("Experiment greeting-tone stopped")
    expect(page.locator(".decision")).to_contain_text("enough data for the <b>team</b> review")
    expect(page.get_by_role("link", name="Stop…")).to_have_count(0)
    assert server.api.get("/v1/experiments/greeting-tone").json()["status"] == "stopped"
    actions = [
        e["action"]
        for e in server.api.get("/v1/audit?target=experiment:greeting-tone").json()["items"]
    ]
    assert "experiment.stop" in actions


def test_viewer_sees_the_report_without_stop_or_conclude(
    server: Server, new_page: Callable[..., Page]
) -> None:
    demo_experiment(server, "viewer-tone", "exp/viewer", days=1)
    page = new_page(server.viewer_key)
    page.goto("/experiments/viewer-tone")
    expect(page.locator("svg.chart-bars.chart-wide").first).to_be_visible()  # one day: bars
    expect(page.get_by_role("link", name="Stop…")).to_have_count(0)
    expect(page.get_by_role("button", name="Conclude…")).to_have_count(0)
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    forged = page.request.post(
        "/experiments/viewer-tone/stop", form={"csrf": token}, max_redirects=0
    )
    assert forged.status == 403
    assert server.api.get("/v1/experiments/viewer-tone").json()["status"] == "running"


def test_collection_browse_and_search(server: Server, new_page: Callable[..., Page]) -> None:
    server.push("exp/support", template="Answer {{question}}", message="v1")
    created = server.api.post(
        "/v1/collections",
        json={
            "name": "support-replies",
            "description": "Replies our best agents wrote",
            "prompt": "exp/support",
        },
    )
    assert created.status_code == 201, created.text
    examples = [
        {
            "input": "I want a refund for my order",
            "output": "Refunds take 5 days once the item is back.",
            "category": "billing",
            "quality": 0.95,
        },
        {
            "input": "How do I reset my password?",
            "output": "Use 'Forgot password' on the sign-in page.",
            "category": "account",
            "quality": 0.8,
        },
        {
            "input": "Where is my parcel? <script>window.__xss=1</script> {{7*7}}",
            "output": "Track it from the link in your shipping email.",
            "category": "shipping",
            "quality": 0.6,
        },
    ] + [
        {"input": f"Question {n} about delivery times", "output": f"Answer {n}", "quality": 0.5}
        for n in range(12)
    ]
    added = server.api.post("/v1/collections/support-replies/examples", json={"examples": examples})
    assert added.status_code == 201, added.text
    page = new_page(server.admin_key)
    page.get_by_role("link", name="Examples", exact=True).click()
    row = page.get_by_role("row", name=re.compile("support-replies"))
    expect(row).to_contain_text("hashing")
    expect(row).to_contain_text("15")
    shot(page, "collections-laptop")
    row.get_by_role("link", name="support-replies").click()
    expect(page.locator("table.examples tbody tr")).to_have_count(15)
    expect(page.get_by_text("{{7*7}}").first).to_be_visible()  # shown, not run
    assert page.evaluate("window.__xss") is None
    page.get_by_label("Search").fill("refund for an order")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#search-summary")).to_contain_text("closest in meaning")
    first = page.locator("table.examples tbody tr").first
    expect(first).to_contain_text("I want a refund for my order")
    shot(page, "collection-search-laptop")
    page.get_by_label("text").check()
    page.get_by_label("Search").fill("PASSWORD")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.examples tbody tr")).to_have_count(1)
    expect(page.locator("table.examples mark").first).to_have_text("password")


def test_experiment_and_example_pages_at_laptop_and_phone_width(
    server: Server, new_page: Callable[..., Page]
) -> None:
    demo_experiment(server, "layout-tone", "exp/layout")
    created = server.api.post(
        "/v1/collections", json={"name": "layout-examples", "prompt": "exp/layout"}
    )
    assert created.status_code == 201
    long_text = "A long customer message that goes on and on about an order. " * 8
    server.api.post(
        "/v1/collections/layout-examples/examples",
        json={
            "examples": [
                {"input": long_text, "output": "A short reply.", "category": "orders"},
                {"input": "Short question?", "output": long_text, "quality": 0.4},
            ]
        },
    )
    demo_experiment(server, "broken-split", "exp/broken", broken=True)
    pages = {
        "experiments": "/experiments",
        "experiment": "/experiments/layout-tone",
        "experiment-srm": "/experiments/broken-split",
        "experiment-conclude": "/experiments/layout-tone/conclude?winner=friendly",
        "collections": "/examples",
        "collection": "/examples/layout-examples",
    }
    for device, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        page = new_page(server.admin_key, viewport=viewport)
        for label, url in pages.items():
            page.goto(url)
            shot(page, f"{label}-{device}")
            _usable_at_width(page, f"{label} on {device}")
        page.goto("/experiments/broken-split")
        expect(page.get_by_role("alert")).to_contain_text("Sample ratio mismatch")
        page.goto("/experiments/layout-tone")
        wide, narrow = page.locator("svg.chart-wide").first, page.locator("svg.chart-narrow").first
        if device == "phone":
            expect(narrow).to_be_visible()
            expect(wide).to_be_hidden()
        else:
            expect(wide).to_be_visible()
            expect(narrow).to_be_hidden()
