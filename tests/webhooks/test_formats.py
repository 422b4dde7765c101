"""The Slack format: readable messages for label moves and experiment decisions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from promptvault import Vault
from promptvault.errors import InvalidInputError
from promptvault.webhooks.dispatcher import Dispatcher
from promptvault.webhooks.feed import ChangeEvent
from promptvault.webhooks.formats import slack_message, standard_payload

from .receiver import Receiver

AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_slack_subscription_gets_label_moves_as_messages(vault: Vault, sink: Receiver) -> None:
    _, hook = vault.webhooks.create(sink.url, format="slack", actor="admin")
    assert hook.event_types == ["label.moved", "label.removed", "experiment.*"]
    vault.push("team/support", template="v2 {{name}}", author="alice")  # not a Slack event
    vault.set_label("team/support", "production", 2, actor="alice")
    vault.rollback("team/support", actor="bob")
    vault.set_label("team/support", "canary", 2, actor="alice")
    vault.delete_label("team/support", "canary", actor="alice")
    Dispatcher(vault.webhooks).run_once()
    texts = [r.json["text"] for r in sink.requests]
    assert texts == [
        "*team/support*: `production` moved v1 -> v2 by alice",
        "*team/support*: `production` rolled back v2 -> v1 by bob",
        "*team/support*: `canary` moved nothing -> v2 by alice",
        "*team/support*: `canary` removed (was v2) by alice",
    ]
    blocks = sink.requests[0].json["blocks"]
    assert blocks[0] == {"type": "section", "text": {"type": "mrkdwn", "text": texts[0]}}
    assert blocks[1]["elements"][0]["text"].startswith("label.moved · event ")


def _event(kind: str, **data: object) -> ChangeEvent:
    return ChangeEvent(id=7, type=kind, at=AT, actor="carol", prompt="checkout", payload=dict(data))


def test_experiment_decisions_read_as_sentences() -> None:
    concluded = slack_message(
        _event("experiment.concluded", experiment="tone", winner="b", version=4, label="production")
    )
    assert concluded["text"] == (
        "Experiment *tone* concluded: winner `b`, `production` now serves v4 (by carol)"
    )
    stopped = slack_message(_event("experiment.auto_stopped", experiment="tone", reasons="srm"))
    assert stopped["text"] == "Experiment *tone* stopped automatically: srm"
    by_hand = slack_message(_event("experiment.stopped", experiment="tone", reason="too slow"))
    assert by_hand["text"] == "Experiment *tone* stopped by carol: too slow"


def test_slack_text_escapes_markup_from_users() -> None:
    message = slack_message(_event("label.moved", label="<!channel>", old_version=1, new_version=2))
    assert "<!channel>" not in message["text"] and "&lt;!channel&gt;" in message["text"]


def test_standard_payload_shape() -> None:
    payload = standard_payload(_event("label.moved", label="production", new_version=2))
    assert payload == {
        "type": "label.moved",
        "timestamp": "2030-01-02T03:04:05Z",
        "data": {"id": 7, "actor": "carol", "prompt": "checkout", "label": "production",
                 "new_version": 2},
    }  # fmt: skip


def test_unknown_event_types_refused_with_a_suggestion(vault: Vault, sink: Receiver) -> None:
    with pytest.raises(InvalidInputError) as info:
        vault.webhooks.create(sink.url, event_types=["label.moved", "label.move"], actor="a")
    assert info.value.details == {
        "field": "event_types",
        "index": 1,
        "value": "label.move",
        "suggestions": ["label.moved", "label.removed"],
    }
    with pytest.raises(InvalidInputError, match=r"no event type 'labels\.\*'"):
        vault.webhooks.create(sink.url, event_types=["labels.*"], actor="a")
    assert vault.webhooks.list() == []
