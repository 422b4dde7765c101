"""The builder: rendering, built-in variables, examples, history and metadata."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from promptvault.builder import BuiltRequest, PromptBuilder, build_request
from promptvault.entities import Example, PromptVersion
from promptvault.errors import InvalidInputError, MissingVariablesError

CLOCK = datetime(2024, 3, 30, 23, 30, tzinfo=UTC)  # already the 31st in Berlin


def version(template: Any, *, type_: str = "text", **config: Any) -> PromptVersion:
    return PromptVersion(
        name="support",
        version=3,
        type=type_,  # type: ignore[arg-type]
        template=template,
        config=config,
        created_at=CLOCK,
        hash="h" * 64,
        resolved_label="production",
    )


EXAMPLES = [
    Example(id=11, input="Where is my order?", output="Let me check the tracking.", category="a"),
    Example(id=12, input="Refund please", output="I can help with that.", category="b"),
]


def test_text_prompt_becomes_one_user_message_with_params_and_metadata() -> None:
    v = version(
        "Answer {{question}} for {{company}}.",
        model="gpt-4o-mini",
        temperature=0.2,
        max_tokens=300,
        seed=7,
    )
    req = PromptBuilder().build(v, {"question": "why", "company": "Acme"}, now=CLOCK)
    assert isinstance(req, BuiltRequest)
    assert req.messages == [{"role": "user", "content": "Answer why for Acme."}]
    assert req.model == "gpt-4o-mini"
    assert req.params == {"temperature": 0.2, "max_tokens": 300, "seed": 7}
    meta = req.metadata
    assert (meta.prompt, meta.version, meta.hash, meta.label) == (
        "support",
        3,
        "h" * 64,
        "production",
    )
    assert meta.experiment is None and meta.variant is None
    assert meta.examples_used == 0 and meta.example_ids == []
    assert meta.examples_reason == "no examples requested"
    assert meta.render_us > 0
    assert meta.dropped_params == {"anthropic": ["seed", "temperature"]}


def test_text_prompt_role_from_config() -> None:
    req = PromptBuilder().build(version("Be kind.", role="system"), now=CLOCK)
    assert req.messages == [{"role": "system", "content": "Be kind."}]
    with pytest.raises(InvalidInputError) as err:
        PromptBuilder().build(version("x", role="assistant"), now=CLOCK)
    assert err.value.details["field"] == "config.role"


def test_builtin_now_and_today_follow_the_time_zone_and_the_clock() -> None:
    v = version("{{today}}|{{now}}")
    utc = PromptBuilder().build(v, now=CLOCK)
    assert utc.messages[0]["content"] == "2024-03-30|2024-03-30T23:30:00+00:00"
    berlin = PromptBuilder(timezone="Europe/Berlin").build(v, now=CLOCK)
    assert berlin.messages[0]["content"] == "2024-03-31|2024-03-31T00:30:00+01:00"
    naive = PromptBuilder(timezone="Europe/Berlin").build(v, now=datetime(2024, 7, 1, 9, 0))
    assert naive.messages[0]["content"] == "2024-07-01|2024-07-01T09:00:00+02:00"
    assert naive.metadata.now == "2024-07-01T09:00:00+02:00"
    # caller variables win over built-ins
    pinned = PromptBuilder().build(v, {"today": "1999-12-31"}, now=CLOCK)
    assert pinned.messages[0]["content"].startswith("1999-12-31|")
    live = PromptBuilder().build(version("{{today}}"))
    assert live.messages[0]["content"] == datetime.now(UTC).date().isoformat()


def test_bad_timezone_and_clock() -> None:
    with pytest.raises(InvalidInputError) as err:
        PromptBuilder(timezone="Mars/Olympus")
    assert err.value.details["field"] == "timezone"
    with pytest.raises(InvalidInputError):
        PromptBuilder().build(version("x"), now="2024-01-01")  # type: ignore[arg-type]


def test_missing_variables_are_reported() -> None:
    with pytest.raises(MissingVariablesError) as err:
        PromptBuilder().build(version("{{a}} and {{b}}"), {"a": 1}, now=CLOCK)
    assert err.value.names == ["b"]


def test_examples_fill_the_examples_variable_as_text() -> None:
    v = version("Help.\n\n{{#examples}}Examples:\n{{{examples}}}\n\n{{/examples}}Q: {{q}}")
    req = PromptBuilder().build(v, {"q": "hi"}, examples=EXAMPLES, now=CLOCK)
    assert req.messages == [
        {
            "role": "user",
            "content": "Help.\n\nExamples:\n"
            "Example 1:\nInput: Where is my order?\nOutput: Let me check the tracking.\n\n"
            "Example 2:\nInput: Refund please\nOutput: I can help with that.\n\nQ: hi",
        }
    ]
    assert req.metadata.example_ids == [11, 12]
    assert req.metadata.examples_used == 2
    assert req.metadata.examples_as == "text"
    assert req.metadata.examples_reason is None
    # no examples: the section disappears and metadata says why
    empty = PromptBuilder().build(
        v, {"q": "hi"}, examples=[], examples_reason="collection is empty", now=CLOCK
    )
    assert empty.messages[0]["content"] == "Help.\n\nQ: hi"
    assert empty.metadata.examples_used == 0
    assert empty.metadata.examples_reason == "collection is empty"
    none_selected = PromptBuilder().build(v, {"q": "hi"}, examples=[], now=CLOCK)
    assert none_selected.metadata.examples_reason == "no examples selected"


def test_collection_template_formats_each_example() -> None:
    v = version("{{{examples}}}")
    req = PromptBuilder().build(
        v,
        examples=EXAMPLES,
        example_template="[{{i}}:{{category}}] {{input}} => {{output}}",
        now=CLOCK,
    )
    assert req.messages[0]["content"] == (
        "[1:a] Where is my order? => Let me check the tracking.\n\n"
        "[2:b] Refund please => I can help with that."
    )


def test_example_text_is_data_never_template_code() -> None:
    sneaky = [Example(id=1, input="{{secret}}", output="{{> partial}}")]
    req = PromptBuilder().build(
        version("{{{examples}}}"), {"secret": "s3cr3t"}, examples=sneaky, now=CLOCK
    )
    assert "{{secret}}" in req.messages[0]["content"]
    assert "s3cr3t" not in req.messages[0]["content"]
    chat = version([{"role": "user", "content": "{{q}}"}], type_="chat")
    msgs = (
        PromptBuilder().build(chat, {"q": "x", "secret": "s"}, examples=sneaky, now=CLOCK).messages
    )
    assert msgs[0] == {"role": "user", "content": "{{secret}}"}


def test_examples_variable_conflict_and_user_value() -> None:
    v = version("{{examples}}")
    with pytest.raises(InvalidInputError) as err:
        PromptBuilder().build(v, {"examples": "mine"}, examples=EXAMPLES, now=CLOCK)
    assert err.value.details["field"] == "variables.examples"
    own = PromptBuilder().build(v, {"examples": "mine"}, now=CLOCK)
    assert own.messages[0]["content"] == "mine"


CHAT = [
    {"role": "system", "content": "You support {{company}}."},
    {"type": "placeholder", "name": "history", "optional": True},
    {"role": "user", "content": "{{question}}"},
]
HISTORY = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello! How can I help?"},
]


def test_chat_examples_become_turns_after_the_system_message() -> None:
    v = version(CHAT, type_="chat", model="m")
    req = PromptBuilder().build(
        v, {"company": "Acme", "question": "Where?"}, examples=EXAMPLES, history=HISTORY, now=CLOCK
    )
    assert req.messages == [
        {"role": "system", "content": "You support Acme."},
        {"role": "user", "content": "Where is my order?"},
        {"role": "assistant", "content": "Let me check the tracking."},
        {"role": "user", "content": "Refund please"},
        {"role": "assistant", "content": "I can help with that."},
        *HISTORY,
        {"role": "user", "content": "Where?"},
    ]
    assert req.metadata.examples_as == "messages"


def test_chat_examples_placeholder_and_history_without_placeholder() -> None:
    template = [
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": "Context first."},
        {"type": "placeholder", "name": "examples"},
        {"role": "user", "content": "{{question}}"},
    ]
    req = PromptBuilder().build(
        version(template, type_="chat"),
        {"question": "Now?"},
        examples=EXAMPLES[:1],
        history=HISTORY,
        now=CLOCK,
    )
    assert [m["content"] for m in req.messages] == [
        "Rules.",
        "Context first.",
        "Where is my order?",
        "Let me check the tracking.",
        "Hi",  # history goes before the last user message when there is no placeholder
        "Hello! How can I help?",
        "Now?",
    ]
    nothing = PromptBuilder().build(version(template, type_="chat"), {"question": "?"}, now=CLOCK)
    assert [m["content"] for m in nothing.messages] == ["Rules.", "Context first.", "?"]


def test_chat_template_reading_examples_gets_text() -> None:
    template = [
        {"role": "system", "content": "Examples:\n{{{examples}}}"},
        {"role": "user", "content": "{{question}}"},
    ]
    req = PromptBuilder().build(
        version(template, type_="chat"), {"question": "?"}, examples=EXAMPLES[:1], now=CLOCK
    )
    assert req.messages[0]["content"].startswith("Examples:\nExample 1:\nInput: Where is my order?")
    assert len(req.messages) == 2
    assert req.metadata.examples_as == "text"


def test_text_prompt_examples_and_history_as_turns() -> None:
    req = PromptBuilder().build(
        version("{{q}}"), {"q": "Now?"}, examples=EXAMPLES[:1], history=HISTORY, now=CLOCK
    )
    assert [m["role"] for m in req.messages] == ["user", "assistant", "user", "assistant", "user"]
    assert req.messages[-1]["content"] == "Now?"
    system = PromptBuilder().build(
        version("Rules.", role="system"), examples=EXAMPLES[:1], history=HISTORY, now=CLOCK
    )
    assert [m["role"] for m in system.messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert system.messages[-1]["content"] == "Hello! How can I help?"


def test_bad_history_is_rejected_with_the_field() -> None:
    with pytest.raises(InvalidInputError) as err:
        PromptBuilder().build(version("x"), history=[{"role": "wizard", "content": "?"}], now=CLOCK)
    assert err.value.details["field"] == "history[0].role"
    with pytest.raises(InvalidInputError):
        PromptBuilder().build(version("x"), history="hi", now=CLOCK)  # type: ignore[arg-type]


def test_required_history_placeholder_must_be_given() -> None:
    template = [{"type": "placeholder", "name": "history"}, {"role": "user", "content": "x"}]
    with pytest.raises(MissingVariablesError):
        PromptBuilder().build(version(template, type_="chat"), now=CLOCK)
    ok = PromptBuilder().build(version(template, type_="chat"), history=[], now=CLOCK)
    assert ok.messages == [{"role": "user", "content": "x"}]


def test_experiment_and_variant_show_in_metadata() -> None:
    v = version("x").model_copy(update={"experiment": "tone-test", "variant": "B"})
    meta = PromptBuilder().build(v, now=CLOCK).metadata
    assert (meta.experiment, meta.variant) == ("tone-test", "B")


def test_build_request_shares_a_builder_per_zone() -> None:
    a = build_request(version("{{today}}"), timezone="Asia/Tokyo", now=CLOCK)
    assert a.messages[0]["content"] == "2024-03-31"


def test_template_shape_must_match_type() -> None:
    with pytest.raises(InvalidInputError):
        PromptBuilder().build(version("text", type_="chat"), now=CLOCK)
    with pytest.raises(InvalidInputError):
        PromptBuilder().build(version([{"role": "user", "content": "x"}]), now=CLOCK)


def test_request_round_trips_through_json() -> None:
    import json

    req = PromptBuilder().build(
        version("{{q}}", model="m", temperature=0.1), {"q": "x"}, examples=EXAMPLES, now=CLOCK
    )
    again = BuiltRequest.from_dict(json.loads(json.dumps(req.to_dict())))
    assert again == req
    assert again.to_openai() == req.to_openai()
    with pytest.raises(InvalidInputError):
        BuiltRequest.from_dict({"messages": []})


def test_cache_is_keyed_by_content_not_only_by_hash() -> None:
    builder = PromptBuilder()
    first = builder.build(version("one {{a}}", model="m1"), {"a": 1}, now=CLOCK)
    second = builder.build(version("two {{a}}", model="m2"), {"a": 2}, now=CLOCK)  # same hash
    assert first.messages[0]["content"] == "one 1" and first.model == "m1"
    assert second.messages[0]["content"] == "two 2" and second.model == "m2"
    # a caller mutating a returned request does not leak into the next build
    first.params["temperature"] = 9
    first.metadata.dropped_params.setdefault("openai", []).append("x")
    third = builder.build(version("one {{a}}", model="m1"), {"a": 1}, now=CLOCK)
    assert third.params == {} and third.metadata.dropped_params == {}


def test_placeholders_are_filled_by_name() -> None:
    chat = version(
        [
            {"role": "system", "content": "Be {{tone}}."},
            {"type": "placeholder", "name": "context"},
            {"type": "placeholder", "name": "history"},
            {"type": "placeholder", "name": "examples"},
            {"role": "user", "content": "{{q}}"},
        ],
        type_="chat",
    )
    builder = PromptBuilder()
    context = [{"role": "system", "content": "{{not a variable}}", "name": "kb"}]
    turns = [{"role": "user", "content": "earlier"}]
    values = {"tone": "brief", "q": "now?"}
    built = builder.build(chat, values, placeholders={"context": context, "history": turns})
    assert built.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "{{not a variable}}", "name": "kb"},  # data, kept whole
        {"role": "user", "content": "earlier"},
        {"role": "user", "content": "now?"},
    ]
    # With history= and examples placed by the builder, the rest still come by name.
    shot = Example(id=1, input="hi", output="hello")
    both = builder.build(
        chat, values, history=turns, examples=[shot], placeholders={"context": context}
    )
    assert [m["content"] for m in both.messages] == [
        "Be brief.",
        "{{not a variable}}",
        "earlier",
        "hi",
        "hello",
        "now?",
    ]
    own = builder.build(
        chat, values, placeholders={"context": [], "history": [], "examples": turns}
    )
    assert [m["content"] for m in own.messages] == ["Be brief.", "earlier", "now?"]
    for kwargs, field in (
        ({"history": turns, "placeholders": {"history": turns}}, "placeholders.history"),
        ({"examples": [shot], "placeholders": {"examples": turns}}, "placeholders.examples"),
        ({"placeholders": {"nope": turns}}, "placeholders.nope"),
        ({"placeholders": {"context": "text"}}, "placeholders.context"),
    ):
        with pytest.raises(InvalidInputError) as err:
            builder.build(chat, values, **kwargs)  # type: ignore[arg-type]
        assert err.value.details["field"] == field
    with pytest.raises(MissingVariablesError) as missing:
        builder.build(chat, values, placeholders={"history": turns})
    assert [m["name"] for m in missing.value.missing] == ["context"]
    with pytest.raises(InvalidInputError) as text:
        builder.build(version("Hi"), placeholders={"context": context})
    assert text.value.details["field"] == "placeholders"
