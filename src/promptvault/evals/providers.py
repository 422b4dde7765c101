"""Model providers: their configuration, and one call to a model with retries.

Two kinds, each through its vendor's real client package: ``openai`` (any OpenAI-compatible
endpoint: OpenAI, Azure, vLLM, Ollama, LM Studio; ``base_url`` + key) and ``anthropic``.
The clients' own retries are turned off: :func:`call_with_retries` retries 429, 5xx,
timeouts and dropped connections with exponential backoff and jitter, and waits what a
``Retry-After`` (or ``retry-after-ms``) header asks instead when there is one.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from promptvault.errors import ProviderError

__all__ = [
    "ClientPool",
    "Completion",
    "ModelClient",
    "ProviderConfig",
    "call_with_retries",
    "make_client",
    "retry_after",
]

MAX_WAIT = 60.0  # seconds: the longest wait a Retry-After may impose per attempt
BACKOFF_BASE = 0.5
Sleep = Callable[[float], Awaitable[None]]


class Completion(NamedTuple):
    """A model's answer: its text and token counts."""

    text: str
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class ProviderConfig:
    """Everything needed to call one provider (``api_key`` in clear: keep it in memory)."""

    name: str
    kind: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    model: str | None = None
    timeout: float = 60.0
    max_retries: int = 4


class ModelClient(Protocol):
    """One provider's client: send the request kwargs, get a :class:`Completion`."""

    async def complete(self, request: Mapping[str, Any]) -> Completion: ...

    async def aclose(self) -> None: ...


def _sdk_options(config: ProviderConfig) -> dict[str, Any]:
    """What both providers' SDK clients are made with; their own retries are off
    (:func:`call_with_retries` retries)."""
    return {
        "api_key": config.api_key or "not-needed",
        "base_url": config.base_url,
        "timeout": config.timeout,
        "max_retries": 0,
    }


class _OpenAIClient:
    def __init__(self, config: ProviderConfig) -> None:
        import openai

        self._client = openai.AsyncOpenAI(**_sdk_options(config))

    async def complete(self, request: Mapping[str, Any]) -> Completion:
        response = await self._client.chat.completions.create(**request)
        text = response.choices[0].message.content or "" if response.choices else ""
        usage = response.usage
        return Completion(
            text,
            int(usage.prompt_tokens) if usage else 0,
            int(usage.completion_tokens) if usage else 0,
        )

    async def aclose(self) -> None:
        await self._client.close()


class _AnthropicClient:
    def __init__(self, config: ProviderConfig) -> None:
        import anthropic

        self._client = anthropic.AsyncAnthropic(**_sdk_options(config))

    async def complete(self, request: Mapping[str, Any]) -> Completion:
        response = await self._client.messages.create(**request)
        text = "".join(getattr(block, "text", "") for block in response.content)
        usage = response.usage
        return Completion(text, int(usage.input_tokens), int(usage.output_tokens))

    async def aclose(self) -> None:
        await self._client.close()


def make_client(config: ProviderConfig) -> ModelClient:
    """The client for ``config.kind``."""
    if config.kind == "anthropic":
        return _AnthropicClient(config)
    return _OpenAIClient(config)


class ClientPool:
    """One client per provider for the length of a run, shared by the run's calls and its
    judge evaluators (a client holds a connection pool: one per call would reconnect every
    time), all closed together by :meth:`aclose`. Clients are made on first use, in the
    event loop that runs the calls."""

    def __init__(self) -> None:
        self._clients: dict[str, ModelClient] = {}

    def get(self, config: ProviderConfig) -> ModelClient:
        client = self._clients.get(config.name)
        if client is None:
            client = self._clients[config.name] = make_client(config)
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


def retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` / ``retry-after-ms`` header asks to wait, if any."""
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def _classify(exc: BaseException) -> tuple[bool, float | None, str]:
    """(retryable, requested wait, a short description) of a client exception."""
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        retryable = status in (408, 409, 429) or status >= 500
        return retryable, retry_after(headers), f"HTTP {status}: {_message(exc)}"
    if name in ("APITimeoutError", "APIConnectionError") or isinstance(
        exc, TimeoutError | ConnectionError
    ):
        return True, None, "timed out" if "Timeout" in name else f"connection failed: {exc}"
    return False, None, f"{name}: {exc}"


def _message(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc)
    return text if len(text) <= 300 else text[:297] + "..."


async def call_with_retries(
    call: Callable[[], Awaitable[Completion]],
    *,
    max_retries: int,
    provider: str,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> Completion:
    """``call()``, retried on 429/5xx/timeouts; ProviderError after the last attempt."""
    # Module-level ``random`` unless given one: a ``Random()`` per call seeds itself from
    # the OS, which costs more than the rest of this function on the happy path.
    draw = rng.random if rng is not None else random.random
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            retryable, wait, what = _classify(exc)
            if not retryable or attempt >= max_retries:
                tries = f" after {attempt + 1} attempts" if attempt else ""
                raise ProviderError(
                    f"{provider}: {what}{tries}",
                    details={"provider": provider, "attempts": attempt + 1},
                ) from exc
            if wait is None:
                wait = BACKOFF_BASE * (2**attempt) * (0.5 + draw() / 2)
            await sleep(min(wait, MAX_WAIT))
            attempt += 1
