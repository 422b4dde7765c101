"""The real openai and anthropic SDKs send exactly what the adapters produce.

A small OpenAI/Anthropic-compatible server runs on loopback, records every JSON body and
answers with a valid completion the SDKs parse.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import openai
import pytest

from promptvault.builder import BuiltRequest, PromptBuilder
from promptvault.entities import Example, PromptVersion

CLOCK = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class ProviderStub:
    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.bodies.append((self.path, body))
                if self.path == "/v1/chat/completions":
                    answer: dict[str, Any] = {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "created": 1714564800,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": "stub says hi"},
                                "finish_reason": "stop",
                                "logprobs": None,
                            }
                        ],
                        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
                    }
                elif self.path == "/v1/messages":
                    answer = {
                        "id": "msg_1",
                        "type": "message",
                        "role": "assistant",
                        "model": body["model"],
                        "content": [{"type": "text", "text": "stub says hi"}],
                        "stop_reason": "end_turn",
                        "stop_sequence": None,
                        "usage": {"input_tokens": 5, "output_tokens": 3},
                    }
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[ProviderStub]:
    s = ProviderStub()
    yield s
    s.close()


def built(**config: Any) -> BuiltRequest:
    version = PromptVersion(
        name="customer_support",
        version=2,
        type="chat",
        template=[
            {"role": "system", "content": "You support {{company}}. Today is {{today}}."},
            {"type": "placeholder", "name": "history", "optional": True},
            {"role": "user", "content": "{{question}}"},
        ],
        config=config,
        created_at=CLOCK,
        hash="a" * 64,
    )
    return PromptBuilder().build(
        version,
        {"company": "Acme", "question": "Where is my parcel?"},
        examples=[Example(id=1, input="Refund?", output="Sure.")],
        history=[{"role": "user", "content": "Hi"}, {"role": "user", "content": "Anyone?"}],
        now=CLOCK,
    )


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def test_openai_sdk_sends_exactly_the_built_kwargs(stub: ProviderStub) -> None:
    req = built(model="gpt-4o-mini", temperature=0.2, max_tokens=64, seed=3, top_k=5)
    kwargs = req.to_openai()
    client = openai.OpenAI(base_url=f"{stub.base}/v1", api_key="sk-test", max_retries=0)
    completion = client.chat.completions.create(**kwargs)
    assert completion.choices[0].message.content == "stub says hi"
    path, body = stub.bodies[-1]
    assert path == "/v1/chat/completions"
    assert body == as_json(kwargs)
    assert body["temperature"] == 0.2 and "top_k" not in body
    assert req.metadata.dropped_params["openai"] == ["top_k"]


def test_anthropic_sdk_sends_exactly_the_built_kwargs(stub: ProviderStub) -> None:
    req = built(model="claude-test", temperature=0.2, stop=["END"])
    kwargs = req.to_anthropic()
    client = anthropic.Anthropic(base_url=stub.base, api_key="test-key", max_retries=0)
    message = client.messages.create(**kwargs)
    assert message.content[0].text == "stub says hi"  # type: ignore[union-attr]
    path, body = stub.bodies[-1]
    assert path == "/v1/messages"
    assert body == as_json(kwargs)
    assert body["system"] == "You support Acme. Today is 2024-05-01."
    assert body["max_tokens"] == 1024
    assert body["stop_sequences"] == ["END"]
    assert "temperature" not in body
    assert req.metadata.dropped_params == {"anthropic": ["temperature"]}
    # roles alternate: the two history turns were merged into one user message
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][2]["content"] == "Hi\n\nAnyone?\n\nWhere is my parcel?"


def test_extra_body_sends_unsupported_params_through_the_sdks(stub: ProviderStub) -> None:
    req = built(model="m", temperature=0.7, top_k=9)
    a_kwargs = req.to_anthropic(unsupported="extra_body")
    anthropic.Anthropic(base_url=stub.base, api_key="k", max_retries=0).messages.create(**a_kwargs)
    _, body = stub.bodies[-1]
    expected = as_json({k: v for k, v in a_kwargs.items() if k != "extra_body"})
    assert body == {**expected, "temperature": 0.7, "top_k": 9}
    o_kwargs = req.to_openai(unsupported="extra_body")
    openai.OpenAI(base_url=f"{stub.base}/v1", api_key="k", max_retries=0).chat.completions.create(
        **o_kwargs
    )
    _, body = stub.bodies[-1]
    assert body["top_k"] == 9 and body["temperature"] == 0.7


def test_vault_build_end_to_end_through_both_sdks(stub: ProviderStub, sqlite_url: str) -> None:
    from promptvault import Vault
    from promptvault.config import Settings

    with Vault(Settings(database_url=sqlite_url)) as vault:
        vault.push(
            "support",
            template=[
                {"role": "system", "content": "You support {{company}}."},
                {"role": "user", "content": "{{question}}"},
            ],
            config={"model": "gpt-4o-mini", "temperature": 0.1, "max_tokens": 50},
        )
        vault.examples.create("faq", prompt="support", query_template="{{question}}", k=1)
        vault.examples.add("faq", "Where is my refund?", "Refunds take 5 days.")
        vault.examples.add("faq", "Reset my password", "Use the reset link.")
        req = vault.build(
            "support", {"company": "Acme", "question": "My refund is late"}, examples={}
        )
    kwargs = req.to_openai()
    client = openai.OpenAI(base_url=f"{stub.base}/v1", api_key="sk-test", max_retries=0)
    assert client.chat.completions.create(**kwargs).choices[0].message.content == "stub says hi"
    path, body = stub.bodies[-1]
    assert path == "/v1/chat/completions" and body == as_json(kwargs)
    assert [m["content"] for m in body["messages"][1:3]] == [
        "Where is my refund?",
        "Refunds take 5 days.",
    ]
    a_kwargs = req.to_anthropic()
    message = anthropic.Anthropic(base_url=stub.base, api_key="k", max_retries=0).messages.create(
        **a_kwargs
    )
    assert message.content[0].text == "stub says hi"  # type: ignore[union-attr]
    path, body = stub.bodies[-1]
    assert path == "/v1/messages" and body == as_json(a_kwargs)
    assert body["system"] == "You support Acme." and body["max_tokens"] == 50
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
