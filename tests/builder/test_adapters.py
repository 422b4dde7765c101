"""Provider adapters: OpenAI and Anthropic keyword arguments, checked against the SDKs."""

from __future__ import annotations

import inspect
from typing import Any

import anthropic
import openai
import pytest

from promptvault.builder.adapters import (
    ANTHROPIC_PARAMS,
    OPENAI_PARAMS,
    anthropic_kwargs,
    dropped_params,
    openai_kwargs,
)
from promptvault.errors import InvalidInputError

TRANSPORT = {"self", "extra_headers", "extra_query", "extra_body", "timeout"}
# What the adapters send besides the config params of their tables.
OPENAI_SENT = OPENAI_PARAMS | {"messages", "model"}
ANTHROPIC_SENT = ANTHROPIC_PARAMS | {"messages", "model", "system"}


def unknown_to(method: Any, sent: frozenset[str] | set[str]) -> set[str]:
    """The arguments we may send that ``method`` does not take.

    A subset check: a provider release that adds parameters changes nothing here, one that
    removes a parameter we send is caught.
    """
    accepts = inspect.signature(method).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepts.values()):
        return set()
    return set(sent) - (set(accepts) - TRANSPORT)


def test_every_argument_sent_exists_in_the_installed_sdks() -> None:
    assert unknown_to(openai.resources.chat.completions.Completions.create, OPENAI_SENT) == set()
    assert unknown_to(anthropic.resources.messages.Messages.create, ANTHROPIC_SENT) == set()


def test_an_sdk_release_that_adds_parameters_still_passes() -> None:
    def newer_create(
        self: Any, *, messages: Any, model: Any, brand_new_option: Any = None, **_: Any
    ) -> None: ...

    def removed_one(self: Any, *, messages: Any, model: Any, timeout: Any = None) -> None: ...

    def added_one(
        self: Any, *, messages: Any, model: Any, system: Any = None, newer: Any = None
    ) -> None: ...

    assert unknown_to(newer_create, {"messages", "model", "temperature"}) == set()
    assert unknown_to(added_one, {"messages", "model", "system"}) == set()
    assert unknown_to(removed_one, {"messages", "model", "system"}) == {"system"}


def test_anthropic_adapter_drops_what_its_table_leaves_out() -> None:
    # The adapter's own table decides, not the installed SDK: sampling params that
    # anthropic 2.x does not take are dropped and reported.
    assert not {"temperature", "top_p", "top_k"} & ANTHROPIC_PARAMS
    dropped = dropped_params({"temperature": 0.2, "max_tokens": 5})
    assert dropped["anthropic"] == ["temperature"]


MESSAGES = [
    {"role": "system", "content": "Rules."},
    {"role": "user", "content": "Q1"},
    {"role": "assistant", "content": "A1"},
    {"role": "user", "content": "Q2", "name": "alice"},
]


def test_openai_kwargs_pass_messages_and_accepted_params() -> None:
    params = {"temperature": 0.3, "max_tokens": 50, "stop_sequences": ["\n\n"], "top_k": 4}
    kw = openai_kwargs(MESSAGES, "gpt-4o-mini", params)
    assert kw == {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "temperature": 0.3,
        "max_tokens": 50,
        "stop": ["\n\n"],
    }
    assert kw["messages"] is not MESSAGES
    assert openai_kwargs(MESSAGES, "m", params, unsupported="extra_body")["extra_body"] == {
        "top_k": 4
    }
    with pytest.raises(InvalidInputError) as err:
        openai_kwargs(MESSAGES, "m", params, unsupported="raise")
    assert err.value.details["params"] == ["top_k"]
    assert err.value.details["field"] == "config.top_k"


def test_anthropic_kwargs_split_system_merge_roles_and_default_max_tokens() -> None:
    messages = [
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": "Example in"},
        {"role": "assistant", "content": "Example out"},
        {"role": "system", "content": "More rules."},
        {"role": "user", "content": "History 1"},
        {"role": "user", "content": "Question", "name": "bob"},
    ]
    kw = anthropic_kwargs(messages, "claude-x", {"temperature": 0.2, "stop": ["END"]})
    assert kw == {
        "model": "claude-x",
        "max_tokens": 1024,
        "system": "Rules.\n\nMore rules.",
        "messages": [
            {"role": "user", "content": "Example in"},
            {"role": "assistant", "content": "Example out"},
            {"role": "user", "content": "History 1\n\nQuestion"},
        ],
        "stop_sequences": ["END"],
    }
    assert anthropic_kwargs(messages, "c", {"max_tokens": 99})["max_tokens"] == 99
    assert anthropic_kwargs(messages, "c", {}, default_max_tokens=5)["max_tokens"] == 5
    extra = anthropic_kwargs(messages, "c", {"temperature": 0.2}, unsupported="extra_body")
    assert extra["extra_body"] == {"temperature": 0.2}


def test_anthropic_merges_content_blocks() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}
    kw = anthropic_kwargs(
        [{"role": "user", "content": "Look:"}, {"role": "user", "content": [image]}], "c", {}
    )
    assert kw["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Look:"}, image]}
    ]
    assert "system" not in kw


def test_anthropic_rejects_tool_messages_and_empty_conversations() -> None:
    with pytest.raises(InvalidInputError) as err:
        anthropic_kwargs(
            [{"role": "user", "content": "x"}, {"role": "tool", "content": "42"}], "c", {}
        )
    assert err.value.details["field"] == "messages[1].role"
    with pytest.raises(InvalidInputError) as err:
        anthropic_kwargs([{"role": "system", "content": "only rules"}], "c", {})
    assert err.value.details["field"] == "messages"


def test_model_is_required() -> None:
    with pytest.raises(InvalidInputError) as err:
        openai_kwargs(MESSAGES, None, {})
    assert err.value.details["field"] == "config.model"
    with pytest.raises(InvalidInputError):
        anthropic_kwargs(MESSAGES, "", {})


def test_dropped_params_lists_what_each_default_adapter_leaves_out() -> None:
    params = {"temperature": 1, "top_p": 0.9, "max_tokens": 5, "stop": ["x"], "made_up": 1}
    assert dropped_params(params) == {
        "anthropic": ["made_up", "temperature", "top_p"],
        "openai": ["made_up"],
    }
    assert dropped_params({"max_tokens": 5}) == {}


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4", "claude-sonnet-4-5"),
        ("gpt-4o", "claude-sonnet-4-5"),
        ("gpt-4o-mini", "claude-haiku-4-5"),
        ("gpt-4.1-mini-2025-04-14", "claude-haiku-4-5"),
        ("o3", "claude-opus-4-1"),
        ("claude-3-7-sonnet-latest", "claude-3-7-sonnet-latest"),
        ("my-local-model", "claude-sonnet-4-5"),
    ],
)
def test_anthropic_request_maps_openai_models(model: str, expected: str) -> None:
    kw = anthropic_kwargs([{"role": "user", "content": "hi"}], model, {})
    assert kw["model"] == expected
    assert openai_kwargs([{"role": "user", "content": "hi"}], model, {})["model"] == model
