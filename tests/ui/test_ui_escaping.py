"""User content is shown, never interpreted: payloads in every field come out escaped."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from starlette.testclient import TestClient

from promptvault import Vault

from .conftest import csrf_of, sign_in

AsRole = Callable[[str], TestClient]

# What must never reach a page as markup.
RAW = (
    "<script>window.__xss",
    "<img src=x onerror",
    "<svg onload",
    "</textarea><script",
    '"><b onmouseover',
)
NAME = "xss/-_.payload..v1"  # names allow only [A-Za-z0-9._/-]


def seed(vault: Vault) -> None:
    """Payloads in the template, chat messages, description, tags, config and messages."""
    vault.push(
        NAME,
        template=(
            "<script>window.__xss=1</script> {{name}} <img src=x onerror=window.__xss=2>\n"
            "{{! <svg onload=window.__xss=3> }} {{{raw}}}"
        ),
        description="<script>window.__xss=4</script>",
        tags=["<img src=x onerror=window.__xss=5>"],
        config={"model": '"><b onmouseover=window.__xss=6>', "temperature": 0.1},
        message="</textarea><script>window.__xss=7</script>",
        author="<svg onload=window.__xss=8>",
    )
    vault.push(
        NAME,
        template="{{name}} </textarea><script>window.__xss=9</script> {{{raw}}}",
        message='"><b onmouseover=window.__xss=10>',
        labels=["staging"],
    )
    vault.push(
        "xss/chat",
        template=[
            {"role": "system", "content": "</textarea><script>window.__xss=11</script>"},
            {"role": "user", "content": "{{q}} <img src=x onerror=window.__xss=12>"},
        ],
        message="<script>window.__xss=13</script>",
    )


def assert_inert(text: str, where: str) -> None:
    for raw in RAW:
        assert raw not in text, f"{raw!r} unescaped on {where}"


def test_payloads_are_escaped_on_every_page(vault: Vault, as_role: AsRole) -> None:
    seed(vault)
    admin = as_role("admin")
    urls = [
        "/",
        "/?q=xss",
        f"/prompts/{NAME}",
        f"/prompts/{NAME}?v=1",
        f"/diff/{NAME}?a=1&b=2",
        f"/diff/{NAME}?a=1&b=2&view=inline",
        f"/edit/{NAME}",
        f"/play/{NAME}",
        f"/promote/{NAME}?version=2&label=production",
        "/prompts/xss/chat",
        "/edit/xss/chat",
        "/audit",
        "/audit?actor=%3Csvg%20onload%3Dwindow.__xss%3D8%3E",
    ]
    for url in urls:
        page = admin.get(url)
        assert page.status_code == 200, url
        assert_inert(page.text, url)
    prompt_page = admin.get(f"/prompts/{NAME}").text
    assert "&lt;script&gt;window.__xss=4&lt;/script&gt;" in prompt_page  # shown as text
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in admin.get(f"/prompts/{NAME}?v=1").text
    # The template's own mustache tags are displayed, not rendered.
    assert "{{name}}" in prompt_page and "{{{raw}}}" in prompt_page


def test_rendered_output_and_errors_are_escaped(vault: Vault, as_role: AsRole) -> None:
    seed(vault)
    admin = as_role("admin")
    page = admin.get(f"/play/{NAME}")
    token = csrf_of(page.text)
    payload = "<script>window.__xss=20</script>"
    rendered = admin.post(
        f"/play/{NAME}",
        data={"csrf": token, "v": "2", "var_name": payload, "var_raw": "<svg onload=x>"},
    )
    assert rendered.status_code == 200
    assert_inert(rendered.text, "playground result")
    assert "&lt;script&gt;window.__xss=20&lt;/script&gt;" in rendered.text
    error = admin.post(
        "/new",
        data={
            "csrf": token,
            "name": "xss/err",
            "type": "text",
            "syntax": "mustache",
            "template": "<script>window.__xss=21</script>{{#open}}",
            "message": "<script>window.__xss=22</script>",
        },
    )
    assert error.status_code == 422
    assert_inert(error.text, "editor error")
    missing = admin.get("/prompts/%3Cscript%3Ewindow.__xss")
    assert missing.status_code in (404, 422)
    assert_inert(missing.text, "error page")


def test_check_api_returns_json_never_html(vault: Vault, as_role: AsRole) -> None:
    admin = as_role("admin")
    token = csrf_of(admin.get("/new").text)
    response = admin.post(
        "/ui/api/check",
        data={"type": "text", "template": "<script>x</script>{{a}}", "sample": '{"a": "<b>"}'},
        headers={"X-CSRF-Token": token},
    )
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["preview"] == "<script>x</script><b>"  # data; the page sets textContent


def test_key_names_are_escaped_in_the_header_and_log(app: FastAPI) -> None:
    key, _ = app.state.keys.create("<img src=x onerror=window.__xss=30>", "admin", actor="t")
    client = sign_in(TestClient(app), key)
    for url in ("/", "/audit"):
        text = client.get(url).text
        assert_inert(text, url)
        assert "&lt;img src=x onerror=window.__xss=30&gt;" in text
