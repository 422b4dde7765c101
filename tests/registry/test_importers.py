"""Importers from Humanloop, LangChain, the JSON-file registry and a running Langfuse."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.load import load
from langchain_core.messages import HumanMessage

from promptvault import Vault
from promptvault.config import Settings
from promptvault.errors import ConflictError, InvalidInputError
from promptvault.registry.importers._text import to_mustache
from promptvault.registry.keys import langfuse_pair
from promptvault.server.app import create_app
from promptvault.templating import compile_template

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def vault(sqlite_url: str) -> Iterator[Vault]:
    v = Vault(Settings(database_url=sqlite_url))
    yield v
    v.close()


def test_humanloop_folder(vault: Vault) -> None:
    report = vault.import_from("humanloop", DATA / "humanloop", actor="migrator")
    assert report.created == ["summarize", "support/reply"] and report.versions == 2
    assert any("no author" in line for line in report.not_carried)
    reply = vault.get("support/reply")
    assert reply.type == "chat"
    assert reply.config == {
        "model": "gpt-4o",
        "temperature": 0.7,
        "provider": "openai",
        "endpoint": "chat",
    }
    messages = vault.render(
        "support/reply", {"company": "Acme", "language": "French", "question": "Where?"}
    )
    assert messages == [
        {
            "role": "system",
            "content": "You are a support agent for Acme. Reply in French.\n"
            "Never promise refunds; quote policies as <policy>...</policy> blocks.",
        },
        {"role": "user", "content": "Where?"},
        {"role": "assistant", "content": "Thanks for reaching out!"},
    ]
    text = vault.render("summarize", {"sentences": 2, "text": "Long {story}."})
    assert text == "Summarize the following text in 2 sentences. Keep {curly} text as is.\n\n" + (
        "Long {story}."
    )
    assert vault.audit.entries(action="registry.import")[-1].actor == "migrator"

    again = vault.import_from("humanloop", DATA / "humanloop")
    assert again.created == [] and again.unchanged == ["summarize", "support/reply"]
    assert len(vault.audit.entries(action="registry.import")) == 1


def test_humanloop_bad_file_names_the_line(vault: Vault, tmp_path: Path) -> None:
    bad = tmp_path / "bad.prompt"
    bad.write_text("---\nmodel: [gpt\n---\n<user>hi</user>\n")
    with pytest.raises(InvalidInputError) as err:
        vault.import_from("humanloop", bad)
    assert err.value.details["line"] == 2 and "not valid YAML" in err.value.message
    bad.write_text("<user>no front matter</user>")
    with pytest.raises(InvalidInputError, match="front matter"):
        vault.import_from("humanloop", bad)
    assert vault.list_prompts() == []


def test_langchain_files_render_as_langchain_does(vault: Vault) -> None:
    report = vault.import_from("langchain", DATA / "langchain")
    assert report.created == ["greeting_mustache", "hub_summary", "rag_chat"]

    chat_lc = load(json.loads((DATA / "langchain" / "rag_chat.json").read_text()))
    variables = {"context": "Paris is in France.", "question": "Where is Paris?"}
    expected = [m.content for m in chat_lc.format_messages(**variables)]
    rendered = vault.render("rag_chat", variables)
    assert [m["content"] for m in rendered] == expected
    assert '{"answer": "..."}' in rendered[0]["content"]
    assert vault.get("rag_chat").template[1] == {  # type: ignore[index]
        "type": "placeholder",
        "name": "history",
        "optional": True,
    }
    history = [{"role": "user", "content": "earlier"}]
    with_history = vault.render("rag_chat", variables, placeholders={"history": history})
    assert with_history[1] == history[0]
    assert chat_lc.format_messages(**variables, history=[HumanMessage("earlier")])[1].content == (
        "earlier"
    )

    hub = json.loads((DATA / "langchain" / "hub_summary.json").read_text())
    expected_text = hub["template"].format(words=50, text="TEXT")
    assert vault.render("hub_summary", {"words": 50, "text": "TEXT"}) == expected_text

    mustache_lc = load(json.loads((DATA / "langchain" / "greeting_mustache.json").read_text()))
    assert vault.render("greeting_mustache", {"name": "Ada", "vip": True}) == (
        mustache_lc.format(name="Ada", vip=True)
    )
    assert vault.import_from("langchain", DATA / "langchain").created == []


def test_langchain_refuses_positional_fields(vault: Vault, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"_type": "prompt", "template": "Hi {0}"}))
    with pytest.raises(InvalidInputError, match="not a named variable"):
        vault.import_from("langchain", bad)


def test_seed_json_keeps_text_and_leaves_undeclared_literal(vault: Vault, tmp_path: Path) -> None:
    report = vault.import_from("seed-json", DATA / "seed" / "registry.json", actor="migrator")
    assert report.created == ["support_reply"] and report.versions == 2
    v1 = vault.get("support_reply")
    assert (v1.version, v1.author) == (1, "maria")
    assert v1.created_at.isoformat() == "2024-03-01T09:00:00+00:00"
    assert v1.template == (  # kept exactly: no other {{ in it
        "Dear {{customer}}, thanks for writing to {{company}}. Your ticket {id} is open."
    )
    variables = {"customer": "Ada", "company": "Acme", "id": "X", "signature": "S"}
    assert vault.render("support_reply", variables) == (
        "Dear Ada, thanks for writing to Acme. Your ticket {id} is open."
    )
    # Not declared: {{signature}} is text, and the render does not fail without it.
    assert vault.render("support_reply@2", {"customer": "Ada", "company": "Acme"}) == (
        'Dear Ada, Acme here. {{signature}} goes below; JSON: {"ok": true}'
    )
    assert vault.get_prompt("support_reply").tags == ("email", "support")
    assert vault.import_from("seed-json", DATA / "seed" / "registry.json").created == []

    changed = json.loads((DATA / "seed" / "registry.json").read_text())
    changed["support_reply"]["versions"][0]["template"] = "Changed {{customer}}"
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(changed))
    with pytest.raises(ConflictError, match="version 1 differs"):
        vault.import_from("seed-json", path)


def test_all_or_nothing(vault: Vault, tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    shutil.copytree(DATA / "humanloop", folder)
    (folder / "zz_broken.prompt").write_text("---\nmodel: x\n---\n<user>hi</user> stray\n")
    with pytest.raises(InvalidInputError, match="outside"):
        vault.import_from("humanloop", folder)
    assert vault.list_prompts() == []
    with pytest.raises(InvalidInputError, match="unknown import format"):
        vault.import_from("promptlayer", folder)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="{}<%>ab \n", max_size=6),
            st.sampled_from(["a", "b"]).map(lambda n: ("var", n)),
        ),
        max_size=8,
    )
)
def test_literal_text_renders_as_written(pieces: list[str | tuple[str, str]]) -> None:
    pieces = [p for p in pieces if p != ""]
    expected = "".join(p if isinstance(p, str) else {"a": "A", "b": "B"}[p[1]] for p in pieces)
    source = to_mustache(pieces)
    assert compile_template(source).render({"a": "A", "b": "B"}) == expected


@pytest.fixture
def langfuse_stand_in(tmp_path: Path) -> Iterator[tuple[str, str, Vault]]:
    """promptvault's own Langfuse-compatible API, serving as the Langfuse to import from."""
    origin = Vault(Settings(database_url=f"sqlite:///{tmp_path / 'origin.db'}"))
    app = create_app(origin)
    key = app.state.keys.create("exporter", "viewer", actor="setup")[0]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{srv.servers[0].sockets[0].getsockname()[1]}", key, origin
    finally:
        srv.should_exit = True
        thread.join(10)
        origin.close()


def test_langfuse_import_every_version_and_label(
    vault: Vault, langfuse_stand_in: tuple[str, str, Vault]
) -> None:
    host, key, origin = langfuse_stand_in
    for i in range(3):  # more prompts than one page holds (the page size is forced below)
        origin.push(
            f"team/p{i}",
            template="Hi {{name}} <{{ missing }}>",
            syntax="langfuse",
            author="ann",
            tags=["t"],
            message="first",
        )
    origin.push("team/p0", template="v2 {{name}}", syntax="langfuse", author="bob", labels=["qa"])
    origin.push(
        "chat",
        template=[
            {"role": "system", "content": "Be {{tone}}"},
            {"type": "placeholder", "name": "history"},
        ],
        syntax="langfuse",
        config={"model": "m"},
        author="cy",
    )
    public, secret = langfuse_pair(key)

    import promptvault.registry.importers.langfuse as reader

    old_page, reader._PAGE = reader._PAGE, 2
    try:
        report = vault.import_from("langfuse", host=host, public_key=public, secret_key=secret)
    finally:
        reader._PAGE = old_page
    assert report.created == ["chat", "team/p0", "team/p1", "team/p2"] and report.versions == 5
    assert report.not_carried == []
    assert vault.labels("team/p0") == {"production": 1, "qa": 2}
    v1, v2 = vault.get("team/p0@1"), vault.get("team/p0@2")
    assert (v1.author, v1.message, v2.author) == ("ann", "first", "bob")
    assert v1.created_at == origin.get("team/p0@1").created_at
    assert v1.hash == origin.get("team/p0@1").hash and v1.syntax == "langfuse"
    assert vault.get_prompt("team/p1").tags == ("t",)
    assert vault.get("chat").template == origin.get("chat").template
    assert vault.render("team/p1", {"name": "A&B"}) == "Hi A&B <{{ missing }}>"

    again = vault.import_from("langfuse", host=host, public_key=public, secret_key=secret)
    assert again.created == [] and len(again.unchanged) == 4

    with pytest.raises(InvalidInputError, match="401"):
        vault.import_from("langfuse", host=host, public_key=public, secret_key="sk-lf-wrong")
