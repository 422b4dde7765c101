"""What the pages show and do: editor, live check, diff, playground, labels, list, audit."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from starlette.testclient import TestClient

from promptvault import Vault

from .conftest import csrf_of

AsRole = Callable[[str], TestClient]

CHAT = [
    {"role": "system", "content": "You help customers of {{company}}."},
    {"type": "placeholder", "name": "history", "optional": True},
    {"role": "user", "content": "{{question}}"},
]


class _FormParser(HTMLParser):
    """Collects what a browser would submit for the form with a given id."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.template_depth = 0
        self.fields: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._text: list[str] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "template":
            self.template_depth += 1
        if self.template_depth:
            return
        if tag == "input" and "name" in a:
            if a.get("type") in ("radio", "checkbox") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a["name"], []
        elif tag == "select":
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "template" and self.template_depth:
            self.template_depth -= 1
        elif self.template_depth:
            return
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            self.fields.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = [v for v, sel in self._options if sel] or [self._options[0][0]]
            self.fields.append((self._select, chosen[0]))
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and not self.template_depth:
            self._text.append(data)


def _form(page_html: str, form_id: str) -> dict[str, list[str]]:
    parser = _FormParser(form_id)
    parser.feed(page_html)
    out: dict[str, list[str]] = {}
    for name, value in parser.fields:
        out.setdefault(name, []).append(value)
    return out


def test_new_prompt_syntax_error_then_save(vault: Vault, as_role: AsRole) -> None:
    editor = as_role("editor")
    page = editor.get("/new")
    token = csrf_of(page.text)
    base = {"csrf": token, "name": "support/welcome", "type": "text", "syntax": "mustache"}
    bad = editor.post("/new", data=base | {"template": "Hi {{#vip}}\nthere", "message": "m"})
    assert bad.status_code == 422
    assert "line 1, column" in bad.text and "Not saved" in bad.text
    with pytest.raises(Exception, match="no prompt"):
        vault.get_prompt("support/welcome")
    no_message = editor.post("/new", data=base | {"template": "Hi {{name}}"})
    assert no_message.status_code == 422 and "commit message" in no_message.text
    good = editor.post(
        "/new",
        data=base
        | {
            "template": "Hi {{name}}\r\n",
            "message": "first",
            "model": "gpt-4o",
            "temperature": "1",
        },
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert good.headers["location"] == "/prompts/support/welcome"
    version = vault.get("support/welcome")
    assert version.template == "Hi {{name}}\n"  # browser CRLF normalised
    assert version.config == {"model": "gpt-4o", "temperature": 1}
    assert version.author == "editor-key" and version.message == "first"
    again = editor.post("/new", data=base | {"template": "x", "message": "m"})
    assert again.status_code == 422 and "already exists" in again.text


def test_saving_unchanged_content_says_so(vault: Vault, as_role: AsRole) -> None:
    vault.push(
        "chatty",
        template=CHAT,
        config={"model": "gpt-4o", "temperature": 1, "max_tokens": 200, "top_p": 0.5},
        variables_schema={"type": "object", "properties": {"company": {"type": "string"}}},
        message="init",
    )
    editor = as_role("editor")
    page = editor.get("/edit/chatty")
    assert page.status_code == 200
    form = _form(page.text, "editor")
    assert form["m_kind"] == ["message", "placeholder", "message"]
    form["message"] = ["no real change"]
    response = editor.post("/edit/chatty", data=form)
    assert response.status_code == 200, response.text
    assert "Nothing to save" in response.text
    assert len(vault.versions("chatty")) == 1
    form["m_content"] = [
        "You help customers of {{company}} kindly.",
        "history",
        "{{question}}",
    ]
    saved = editor.post("/edit/chatty", data=form, follow_redirects=False)
    assert saved.status_code == 303
    v2 = vault.get("chatty@latest")
    assert v2.version == 2
    assert v2.template[0]["content"].endswith("kindly.")
    assert v2.template[1] == {"type": "placeholder", "name": "history", "optional": True}
    assert v2.config == {"model": "gpt-4o", "temperature": 1, "max_tokens": 200, "top_p": 0.5}


def test_live_check_reports_line_and_column_and_previews(vault: Vault, as_role: AsRole) -> None:
    editor = as_role("editor")
    token = csrf_of(editor.get("/new").text)
    headers = {"X-CSRF-Token": token}
    bad = editor.post(
        "/ui/api/check",
        data={"type": "text", "template": "line one\nHello {{name}, bye"},
        headers=headers,
    ).json()
    assert bad["ok"] is False
    assert bad["error"]["line"] == 2 and bad["error"]["column"] >= 7
    chat_bad = editor.post(
        "/ui/api/check",
        data={
            "type": "chat",
            "m_kind": ["message", "message"],
            "m_role": ["system", "user"],
            "m_content": ["fine {{a}}", "broken {{#b}}"],
            "m_optional": ["0", "0"],
            "m_extra": ["", ""],
        },
        headers=headers,
    ).json()
    assert chat_bad["ok"] is False and chat_bad["error"]["index"] == 1
    good = editor.post(
        "/ui/api/check",
        data={
            "type": "text",
            "template": "Hello {{name}} from {{place}}",
            "sample": '{"name":"Ada"}',
        },
        headers=headers,
    ).json()
    assert good["ok"] is True
    assert good["variables"] == ["name", "place"]
    assert good["missing"] == ["place"]
    assert good["preview"] == "Hello Ada from "
    bad_json = editor.post(
        "/ui/api/check",
        data={"type": "text", "template": "x", "params": '{"top_p": }'},
        headers=headers,
    ).json()
    assert bad_json["error"]["field"] == "params" and bad_json["error"]["line"] == 1


def test_diff_page_shows_word_changes_and_config(vault: Vault, as_role: AsRole) -> None:
    vault.push("d", template="Hello there\nsame line\n", config={"temperature": 0.2}, message="a")
    vault.push(
        "d", template="Hello dear there\nsame line\n", config={"temperature": 0.9}, message="b"
    )
    viewer = as_role("viewer")
    split = viewer.get("/diff/d?a=1&b=2")
    assert split.status_code == 200
    assert "<mark>dear </mark>" in split.text or "<mark> dear</mark>" in split.text
    assert "diff-split" in split.text
    assert "temperature" in split.text and "0.2" in split.text and "0.9" in split.text
    inline = viewer.get("/diff/d?a=1&b=2&view=inline")
    assert "diff-inline" in inline.text and 'aria-label="removed"' in inline.text
    same = viewer.get("/diff/d?a=2&b=2")
    assert "identical" in same.text
    assert viewer.get("/diff/d?a=7&b=2").status_code == 404


def test_promote_and_roll_back_with_confirmation(vault: Vault, as_role: AsRole) -> None:
    for text in ("one", "two", "three"):
        vault.push("p", template=text, message=f"msg {text}")
    admin = as_role("admin")
    assert "Roll back" not in admin.get("/prompts/p").text  # seen (and cached) before the move
    confirm = admin.get("/promote/p?version=3&label=production")
    assert confirm.status_code == 200
    assert "production serves now" in confirm.text
    assert "Move production to v3" in confirm.text
    assert "<mark>three</mark>" in confirm.text  # what callers will get
    assert vault.labels("p") == {"production": 1}  # nothing moved by looking
    token = csrf_of(confirm.text)
    moved = admin.post("/promote/p", data={"csrf": token, "label": "production", "version": "3"})
    assert moved.status_code == 200 and "production now points at version 3" in moved.text
    page = admin.get("/prompts/p")
    assert "Roll back to v1" in page.text
    back = admin.get("/rollback/p?label=production")
    assert "Roll back production to v1" in back.text
    rolled = admin.post("/rollback/p", data={"csrf": token, "label": "production"})
    assert "rolled back from version 3 to 1" in rolled.text
    assert vault.labels("p") == {"production": 1}
    again = admin.get("/rollback/p?label=production")
    assert again.status_code == 409  # nothing earlier to go back to


def _json_block(page_html: str, block_id: str) -> dict[str, Any]:
    match = re.search(rf'id="{block_id}"><code>(.*?)</code>', page_html, re.DOTALL)
    assert match, f"no {block_id} block"
    value: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return value


def test_playground_builds_provider_requests(vault: Vault, as_role: AsRole) -> None:
    vault.push(
        "ask",
        template=CHAT,
        config={"model": "gpt-4o", "temperature": 0.3, "max_tokens": 50},
        variables_schema={
            "type": "object",
            "properties": {
                "company": {"type": "string", "enum": ["Acme", "Globex"]},
                "question": {"type": "string", "description": "What the user asks"},
            },
            "required": ["question"],
        },
        message="init",
    )
    viewer = as_role("viewer")
    page = viewer.get("/play/ask")
    assert "<select" in page.text and "What the user asks" in page.text
    result = viewer.post(
        "/play/ask",
        data={
            "csrf": csrf_of(page.text),
            "v": "1",
            "var_company": "Globex",
            "var_question": "Where is my order?",
        },
    )
    assert result.status_code == 200
    openai = _json_block(result.text, "openai-json")
    assert openai["model"] == "gpt-4o" and openai["temperature"] == 0.3
    assert openai["messages"][0] == {"role": "system", "content": "You help customers of Globex."}
    anthropic = _json_block(result.text, "anthropic-json")
    assert anthropic["system"] == "You help customers of Globex."
    assert anthropic["messages"] == [{"role": "user", "content": "Where is my order?"}]
    missing = viewer.post("/play/ask", data={"csrf": csrf_of(page.text), "v": "1"})
    assert missing.status_code == 422 and "missing_variables" in missing.text


def test_list_filters_and_paginates(vault: Vault, as_role: AsRole) -> None:
    for i in range(55):
        vault.push(f"bulk/p{i:02d}", template="x", tags=["bulk"] if i % 2 else ["odd"])
    vault.push("solo/readme", template="hi", description="the solo one")
    viewer = as_role("viewer")
    first = viewer.get("/")
    assert first.text.count('class="leaf"') == 50
    assert "after=bulk/p49" in first.text
    second = viewer.get("/?after=bulk/p49")
    assert second.text.count('class="leaf"') == 6 and "Next page" not in second.text
    assert viewer.get("/?folder=solo").text.count('class="leaf"') == 1
    assert viewer.get("/?q=solo+one").text.count('class="leaf"') == 1
    assert viewer.get("/?tag=odd").text.count('class="leaf"') == 28
    assert "No prompt matches" in viewer.get("/?q=nothing-like-this").text


def test_audit_page_lists_newest_first_and_filters(vault: Vault, as_role: AsRole) -> None:
    vault.push("a", template="1", author="alice")
    vault.push("b", template="2", author="bob")
    vault.set_label("a", "staging", 1, actor="carol")
    viewer = as_role("viewer")
    page = viewer.get("/audit")
    actions = re.findall(r'chip-action">([^<]+)<', page.text)
    assert actions[0] == "label.set"
    by_bob = viewer.get("/audit?actor=bob").text
    assert by_bob.count('chip-action"') == by_bob.count("<td>bob</td>") >= 1
    labels = re.findall(r'chip-action">([^<]+)<', viewer.get("/audit?action=label.").text)
    assert labels and all(a.startswith("label.") for a in labels)
    assert "prompt:a" in viewer.get("/audit?target=prompt:a").text


def test_missing_things_get_a_page_not_json(as_role: AsRole) -> None:
    viewer = as_role("viewer")
    page = viewer.get("/prompts/nope/missing")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "prompt_not_found" in page.text
