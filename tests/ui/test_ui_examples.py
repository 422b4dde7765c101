"""Few-shot example pages in process: collections, paging, search by meaning and text, escaping."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app
from promptvault.server.ui.examples import PAGE_SIZE, marked

from .conftest import sign_in

AsRole = Callable[[str], TestClient]

SUPPORT = [
    ("I want a refund for my order", "Refunds take 5 days once we get the item back.", "billing"),
    ("How do I reset my password?", "Use 'Forgot password' on the sign-in page.", "account"),
    ("Where is my parcel?", "Track it from the link in your shipping email.", "shipping"),
    ("Can I change my delivery address?", "Yes, until the parcel ships.", "shipping"),
    ("Do you offer a 100% money back guarantee?", "Yes, for 30 days.", "billing"),
]


def seed(vault: Vault, *, extra: int = 0) -> None:
    vault.push("support", template="Answer: {{question}}", message="first")
    vault.examples.create(
        "support-examples",
        description="Replies our best agents wrote",
        prompt="support",
        actor="setup",
    )
    rows: list[dict[str, Any]] = [
        {"input": i, "output": o, "category": c, "quality": 0.9} for i, o, c in SUPPORT
    ]
    rows += [
        {"input": f"Filler question {n}", "output": f"Filler answer {n}", "quality": 0.5}
        for n in range(extra)
    ]
    vault.examples.add_many("support-examples", rows, actor="setup")


def test_collection_list_shows_embedder_count_and_prompt(vault: Vault, as_role: AsRole) -> None:
    seed(vault)
    vault.examples.create("empty-one", actor="setup")
    viewer = as_role("viewer")
    page = viewer.get("/examples")
    assert page.status_code == 200
    text = page.text
    assert 'href="/examples/support-examples"' in text and 'href="/examples/empty-one"' in text
    assert ">hashing<" in text
    assert '<td class="num">5</td>' in text and '<td class="num">0</td>' in text
    assert 'href="/prompts/support"' in text
    assert 'href="/examples"' in viewer.get("/").text  # in the nav
    empty = viewer.get("/examples/empty-one")
    assert empty.status_code == 200 and "has no examples yet" in empty.text
    assert viewer.get("/examples/nope").status_code == 404


def test_collection_page_pages_and_shows_usage(vault: Vault, as_role: AsRole) -> None:
    seed(vault, extra=PAGE_SIZE)
    ids = [e.id for e in vault.examples.examples("support-examples")]
    vault.examples.record_usage([ids[0], ids[0], ids[1]])
    viewer = as_role("viewer")
    first = viewer.get("/examples/support-examples")
    assert first.status_code == 200
    text = first.text
    assert text.count('<td class="ex-cell">') == 2 * PAGE_SIZE
    assert "I want a refund for my order" in text and "Refunds take 5 days" in text
    assert '<span class="chip">billing</span>' in text
    assert '<td class="num hide-sm">2</td>' in text  # usage of the first example
    assert f"after={ids[PAGE_SIZE - 1]}" in text
    second = viewer.get(f"/examples/support-examples?after={ids[PAGE_SIZE - 1]}").text
    assert second.count('<td class="ex-cell">') == 2 * (len(ids) - PAGE_SIZE)
    assert "Next page" not in second and "First page" in second
    by_category = viewer.get("/examples/support-examples?category=shipping").text
    assert by_category.count('<td class="ex-cell">') == 4
    assert "Where is my parcel?" in by_category and "refund" not in by_category


def test_search_by_meaning_ranks_with_the_embedder(vault: Vault, as_role: AsRole) -> None:
    seed(vault, extra=20)
    viewer = as_role("viewer")
    page = viewer.get("/examples/support-examples", params={"q": "refund my order please"})
    assert page.status_code == 200
    text = page.text
    assert "closest in meaning" in text and "Similarity" in text
    expected = vault.examples.search("support-examples", "refund my order please", k=25)
    assert expected[0][0].input == "I want a refund for my order"
    positions = [text.index(e.input) for e, _ in expected[:3]]
    assert positions == sorted(positions)  # same order as the service ranks them
    assert f"{expected[0][1]:.2f}" in text


def test_search_by_text_marks_matches_and_escapes_wildcards(vault: Vault, as_role: AsRole) -> None:
    seed(vault, extra=5)
    viewer = as_role("viewer")
    page = viewer.get("/examples/support-examples", params={"q": "PASSWORD", "mode": "text"})
    text = page.text
    assert page.status_code == 200
    assert text.count('<td class="ex-cell">') == 2
    assert "reset my <mark>password</mark>?" in text
    assert "&#39;Forgot <mark>password</mark>&#39;" in text
    percent = viewer.get("/examples/support-examples", params={"q": "100%", "mode": "text"})
    assert percent.text.count('<td class="ex-cell">') == 2
    assert "<mark>100%</mark> money back" in percent.text
    none = viewer.get("/examples/support-examples", params={"q": "_", "mode": "text"})
    assert "No example matches" in none.text
    assert viewer.get("/examples/support-examples?mode=fuzzy").status_code == 422


def test_payloads_in_examples_are_escaped(vault: Vault, as_role: AsRole) -> None:
    vault.examples.create("xss", description="<script>window.__xss=1</script>", actor="setup")
    vault.examples.add(
        "xss",
        "<script>window.__xss=2</script> {{7*7}} {{constructor.constructor('x')()}}",
        '<img src=x onerror="window.__xss=3"> {{#a}}',
        category='"><b onmouseover=window.__xss=4>',
        actor="setup",
    )
    admin = as_role("admin")
    for url in (
        "/examples",
        "/examples/xss",
        "/examples/xss?q=%3Cscript%3E&mode=text",
        "/examples/xss?q=%3Cimg%20src%3Dx%3E",
    ):
        page = admin.get(url)
        assert page.status_code == 200, url
        for raw in ("<script>window.__xss", "<img src=x onerror", '"><b onmouseover'):
            assert raw not in page.text, (raw, url)
    text = admin.get("/examples/xss").text
    assert "&lt;script&gt;window.__xss=2&lt;/script&gt; {{7*7}}" in text
    assert "&lt;img src=x onerror=&#34;window.__xss=3&#34;&gt; {{#a}}" in text
    marked_page = admin.get("/examples/xss?q=%3Cscript%3E&mode=text").text
    assert "<mark>&lt;script&gt;</mark>window.__xss=2" in marked_page


def test_marked_splits_case_insensitively() -> None:
    assert marked("Reset PassWord, password", "password") == [
        ("Reset ", False),
        ("PassWord", True),
        (", ", False),
        ("password", True),
    ]
    assert marked("abc", "") == [("abc", False)]
    assert marked("İstanbul", "i") == [("İstanbul", False)]  # lower() changes length: no marks


class _Embeddings(BaseHTTPRequestHandler):
    """An OpenAI-compatible embeddings endpoint that can be switched off (answers 400)."""

    failing = False

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if type(self).failing:
            payload = json.dumps({"error": {"message": "model is offline"}}).encode()
            self.send_response(400)
        else:
            data = [
                {"index": i, "embedding": [float(len(t) % 7 + 1), float(t.count("o") + 1), 1.0]}
                for i, t in enumerate(body["input"])
            ]
            payload = json.dumps({"data": data}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def embeddings_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Embeddings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()
    _Embeddings.failing = False


def test_meaning_search_falls_back_to_text_when_the_embedder_fails(
    sqlite_url: str, embeddings_url: str
) -> None:
    settings = Settings(
        database_url=sqlite_url, embeddings_url=embeddings_url, embeddings_model="stub"
    )
    with Vault(settings) as vault:
        vault.push("support", template="x", message="m")
        vault.examples.create("remote", embedder="openai", actor="setup")
        vault.examples.add_many(
            "remote",
            [{"input": i, "output": o, "category": c} for i, o, c in SUPPORT],
            actor="setup",
        )
        app = create_app(vault)
        key, _ = app.state.keys.create("viewer", "viewer", actor="setup")
        with TestClient(app) as client:
            sign_in(client, key)
            working = client.get("/examples/remote", params={"q": "parcel"})
            assert "closest in meaning" in working.text
            _Embeddings.failing = True
            page = client.get("/examples/remote", params={"q": "PARCEL"})
            assert page.status_code == 200
            assert "Search by meaning is unavailable" in page.text
            assert "model is offline" in page.text
            assert page.text.count('<td class="ex-cell">') == 4  # two examples mention it
            assert "Where is my <mark>parcel</mark>?" in page.text
