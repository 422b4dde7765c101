"""The real Langfuse SDK, unchanged, against a real promptvault server on a loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langfuse import Langfuse

from promptvault import Vault
from promptvault.client import PromptVaultClient
from promptvault.config import Settings
from promptvault.registry.keys import langfuse_pair
from promptvault.server.app import create_app


@dataclass
class Served:
    base: str
    key: str
    vault: Vault
    langfuse: Langfuse


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    path: Path = tmp_path_factory.mktemp("langfuse-sdk") / "vault.db"
    # label_ttl=0: a label moved in promptvault shows on the next fetch (by default within
    # the label TTL, as for /v1 resolves).
    vault = Vault(Settings(database_url=f"sqlite:///{path}", label_ttl=0))
    app = create_app(vault)
    key = app.state.keys.create("langfuse-app", "admin", actor="setup")[0]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    base = f"http://127.0.0.1:{srv.servers[0].sockets[0].getsockname()[1]}"
    public, secret = langfuse_pair(key)
    # Tracing off: the SDK exports no spans anywhere and starts no exporter thread.
    langfuse = Langfuse(public_key=public, secret_key=secret, host=base, tracing_enabled=False)
    try:
        yield Served(base, key, vault, langfuse)
    finally:
        langfuse.shutdown()
        srv.should_exit = True
        thread.join(10)
        vault.close()


def test_text_prompt_through_the_sdk(served: Served) -> None:
    lf = served.langfuse
    made = lf.create_prompt(
        name="sdk/greet",
        prompt="Hi {{name}}! <b>{{ extra }}</b> {{missing}}",
        labels=["staging"],
        tags=["sdk"],
        config={"model": "gpt-x"},
        commit_message="from the sdk",
    )
    assert (made.name, made.version, made.commit_message) == ("sdk/greet", 1, "from the sdk")
    assert made.labels == ["production", "staging", "latest"] and made.tags == ["sdk"]

    got = lf.get_prompt("sdk/greet", cache_ttl_seconds=0)
    assert got.config == {"model": "gpt-x"} and not got.is_fallback
    compiled = got.compile(name="A & B", extra=None)
    assert compiled == "Hi A & B! <b></b> {{missing}}"
    # promptvault renders it the same, in the library and through its own SDK.
    variables = {"name": "A & B", "extra": None}
    assert served.vault.render("sdk/greet", variables) == compiled
    with PromptVaultClient(served.base, served.key) as pv:
        assert pv.render("sdk/greet", variables) == compiled
    pushes = served.vault.audit.entries(action="prompt.push", target="prompt:sdk/greet")
    assert [e.actor for e in pushes] == ["langfuse-app"]

    assert lf.get_prompt("sdk/greet", label="staging", cache_ttl_seconds=0).version == 1
    template = got.get_langchain_prompt()
    assert template == "Hi {name}! <b>{extra}</b> {missing}"


def test_versions_labels_cache_and_fallback(served: Served) -> None:
    lf = served.langfuse
    lf.create_prompt(name="flow", prompt="one")
    lf.create_prompt(name="flow", prompt="two {{x}}", labels=["qa"])
    assert lf.get_prompt("flow", version=2, cache_ttl_seconds=0).prompt == "two {{x}}"
    assert lf.get_prompt("flow").prompt == "one"  # production, now cached for 60 s

    lf.update_prompt(name="flow", version=2, new_labels=["production"])
    assert served.vault.labels("flow") == {"production": 2, "qa": 2}
    # update_prompt clears the SDK's cache for the name, so the move shows at once.
    assert lf.get_prompt("flow").prompt == "two {{x}}"

    # A move made in promptvault is not seen while the SDK's cache entry is fresh...
    served.vault.set_label("flow", "production", 1, actor="ops")
    assert lf.get_prompt("flow").version == 2
    # ...and is with caching off.
    assert lf.get_prompt("flow", cache_ttl_seconds=0).version == 1

    fallback = lf.get_prompt("never-made", fallback="Hello {{who}}", max_retries=0)
    assert fallback.is_fallback and fallback.compile(who="you") == "Hello you"


def test_chat_prompt_through_the_sdk(served: Served) -> None:
    lf = served.langfuse
    lf.create_prompt(
        name="support/chat",
        type="chat",
        prompt=[
            {"role": "system", "content": "You are {{tone}}."},
            {"type": "placeholder", "name": "history"},
            {"role": "user", "content": "{{question}}"},
        ],
        labels=["production"],
    )
    chat = lf.get_prompt("support/chat", type="chat", cache_ttl_seconds=0)
    history = [{"role": "user", "content": "hi <there> & co"}]
    compiled = chat.compile(tone="kind", question="why?", history=history)
    assert compiled == [
        {"role": "system", "content": "You are kind."},
        {"role": "user", "content": "hi <there> & co"},
        {"role": "user", "content": "why?"},
    ]
    variables = {"tone": "kind", "question": "why?"}
    rendered = served.vault.render("support/chat", variables, placeholders={"history": history})
    assert rendered == compiled
    # One deliberate difference: Langfuse also fills variables inside the messages a
    # placeholder inserts; promptvault inserts them as data, so a chat history cannot
    # pull other variables into the prompt.
    sneaky = [{"role": "user", "content": "{{tone}}"}]
    assert chat.compile(**variables, history=sneaky)[1]["content"] == "kind"
    assert served.vault.render("support/chat", variables, placeholders={"history": sneaky})[1] == (
        {"role": "user", "content": "{{tone}}"}
    )

    template = chat.get_langchain_prompt()
    assert template[1] == MessagesPlaceholder(variable_name="history")
    messages = ChatPromptTemplate.from_messages(template).format_messages(
        tone="kind", question="why?", history=[("user", "hi")]
    )
    assert [m.content for m in messages] == ["You are kind.", "hi", "why?"]


def test_promptvault_prompts_through_the_sdk(served: Served) -> None:
    served.vault.push(
        "made/in-vault",
        template=[{"role": "user", "content": "Say {{word}}"}],
        tags=["v"],
        message="pushed here",
        author="alice",
    )
    chat = served.langfuse.get_prompt("made/in-vault", type="chat", cache_ttl_seconds=0)
    assert chat.commit_message == "pushed here" and chat.tags == ["v"]
    assert chat.compile(word="hi") == [{"role": "user", "content": "Say hi"}]
    listed = served.langfuse.api.prompts.list(name="made/in-vault")
    assert [p.versions for p in listed.data] == [[1]]


def test_placeholders_fill_alike_in_langfuse_and_promptvault(served: Served) -> None:
    from promptvault.errors import InvalidInputError, MissingVariablesError
    from promptvault.integrations.langchain import to_langchain

    lf = served.langfuse
    lf.create_prompt(
        name="support/agent",
        type="chat",
        prompt=[
            {"role": "system", "content": "You are {{tone}}."},
            {"type": "placeholder", "name": "history"},
            {"type": "placeholder", "name": "tools"},
            {"role": "user", "content": "{{question}}"},
        ],
        labels=["production"],
    )
    # Stored and served in Langfuse's shape: placeholders are typed items of the prompt.
    raw = lf.api.prompts.get("support/agent")
    assert [getattr(p, "type", None) for p in raw.prompt] == [
        "chatmessage",
        "placeholder",
        "placeholder",
        "chatmessage",
    ]
    assert [getattr(p, "name", None) for p in raw.prompt][1:3] == ["history", "tools"]
    stored = served.vault.get("support/agent").template
    assert stored[1] == {"type": "placeholder", "name": "history"}

    chat = lf.get_prompt("support/agent", type="chat", cache_ttl_seconds=0)
    history = [
        {"role": "user", "content": "my order is late"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "tool", "content": "shipped", "tool_call_id": "c1"},
    ]
    tools = [{"role": "system", "content": "Tools: lookup"}]
    variables = {"tone": "kind", "question": "where is it?"}
    compiled = chat.compile(**variables, history=history, tools=tools)
    assert len(compiled) == 6 and compiled[2]["tool_calls"] == [{"id": "c1", "type": "function"}]
    filled = {"history": history, "tools": tools}

    # promptvault renders and builds the same messages: in the library, through the SDK
    # (locally from its cache) and on the server.
    assert served.vault.render("support/agent", variables, placeholders=filled) == compiled
    assert served.vault.build("support/agent", variables, placeholders=filled).messages == compiled
    with PromptVaultClient(served.base, served.key, push=False) as pv:
        assert pv.render("support/agent", variables, placeholders=filled) == compiled
        assert pv.build("support/agent", variables, placeholders=filled).messages == compiled
        on_server = httpx.post(
            f"{served.base}/v1/prompts/support%2Fagent/build",
            json={"variables": variables, "placeholders": filled},
            headers={"Authorization": f"Bearer {served.key}"},
        )
        assert on_server.status_code == 200, on_server.text
        assert on_server.json()["messages"] == compiled
        # history= fills the placeholder named history; giving it twice is refused.
        by_history = pv.build(
            "support/agent", variables, history=history, placeholders={"tools": tools}
        )
        assert by_history.messages == compiled
        with pytest.raises(InvalidInputError) as twice:
            pv.build("support/agent", variables, history=history, placeholders=filled)
        assert twice.value.details["field"] == "placeholders.history"

    # A placeholder left out: Langfuse keeps it in the list; promptvault names it as missing
    # (strict) or leaves it out.
    assert chat.compile(**variables, history=history)[4] == {"type": "placeholder", "name": "tools"}
    with pytest.raises(MissingVariablesError) as missing:
        served.vault.build("support/agent", variables, placeholders={"history": history})
    assert [m["name"] for m in missing.value.missing] == ["tools"]
    loose = served.vault.build(
        "support/agent", variables, placeholders={"history": history}, strict=False
    )
    assert loose.messages == [m for m in compiled if m not in tools]

    # LangChain: Langfuse's get_langchain_prompt and promptvault's to_langchain agree.
    ours = to_langchain(served.vault.get("support/agent"))
    theirs = ChatPromptTemplate.from_messages(chat.get_langchain_prompt())
    lc_values = {
        **variables,
        "history": [("user", "my order is late")],
        "tools": [("system", "Tools: lookup")],
    }
    assert [m.content for m in ours.format_messages(**lc_values)] == [
        m.content for m in theirs.format_messages(**lc_values)
    ]
    pre_filled = chat.get_langchain_prompt(history=[{"role": "user", "content": "hi"}])
    assert pre_filled[1] == ("user", "hi") and pre_filled[2] == MessagesPlaceholder("tools")
