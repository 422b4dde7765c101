"""Provider adapters: a built request as keyword arguments for the OpenAI and Anthropic SDKs.

Both follow the signatures of the installed SDKs (openai 3.57, anthropic 2.14; tests compare
the tables below with ``inspect.signature`` of the real methods):

* :func:`openai_kwargs` — for ``client.chat.completions.create(**kwargs)``: ``model``,
  ``messages`` (roles and extra message fields as rendered), then every param from the
  prompt's config that the method accepts (:data:`OPENAI_PARAMS`). ``stop_sequences`` is
  renamed ``stop``.
* :func:`anthropic_kwargs` — for ``client.messages.create(**kwargs)``: every ``system``
  message (wherever it stands) is joined with blank lines into ``system``; the rest must be
  ``user``/``assistant`` and consecutive messages of one role are merged, so the roles
  alternate; ``max_tokens`` is required by the API and defaults to
  :data:`DEFAULT_ANTHROPIC_MAX_TOKENS` when the config has none; ``stop`` becomes
  ``stop_sequences``. The config's model usually names an OpenAI model; a model that is not
  a Claude model is mapped to the Anthropic model of the same tier
  (:func:`anthropic_model`, the table :data:`ANTHROPIC_MODEL_FOR`), so the request is one the
  Anthropic API accepts. A ``tool`` message is rejected (the Anthropic API carries tool results
  as content blocks that need the originating ``tool_use`` id). Only ``role`` and ``content``
  of each message are sent.

A param the provider's method does not accept — for example ``temperature``, ``top_p`` and
``top_k`` with anthropic 2.x, whose ``messages.create`` has no such arguments — is handled
by ``unsupported``: ``"drop"`` (the default) leaves it out, ``"extra_body"`` sends it in the
JSON body anyway through the SDK's ``extra_body`` (for compatible servers that take it), and
``"raise"`` raises :class:`~promptvault.errors.InvalidInputError` naming the params. What
the default drops is listed in the built request's ``metadata.dropped_params``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from promptvault.errors import InvalidInputError

__all__ = [
    "ANTHROPIC_MODEL_FOR",
    "ANTHROPIC_PARAMS",
    "DEFAULT_ANTHROPIC_MODEL",
    "DEFAULT_ANTHROPIC_MAX_TOKENS",
    "OPENAI_PARAMS",
    "Unsupported",
    "anthropic_kwargs",
    "anthropic_model",
    "dropped_params",
    "openai_kwargs",
]

Unsupported = Literal["drop", "extra_body", "raise"]

DEFAULT_ANTHROPIC_MAX_TOKENS = 1024

# Named arguments of openai 3.57 ``Completions.create`` besides model/messages and the
# per-call transport options (extra_headers, extra_query, extra_body, timeout).
OPENAI_PARAMS: frozenset[str] = frozenset(
    {
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "modalities",
        "moderation",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
    }
)

# Named arguments of anthropic 2.14 ``Messages.create`` besides model/messages/system and
# the transport options. Note: no temperature, top_p or top_k.
ANTHROPIC_PARAMS: frozenset[str] = frozenset(
    {
        "cache_control",
        "container",
        "diagnostics",
        "inference_geo",
        "max_tokens",
        "metadata",
        "output_config",
        "service_tier",
        "speed",
        "stop_sequences",
        "stream",
        "thinking",
        "tool_choice",
        "tools",
        "user_profile_id",
        "workspace_id",
    }
)

# OpenAI model families (matched by prefix, longest first) -> the Anthropic model of the
# same tier: small and fast, general, or reasoning-heavy.
ANTHROPIC_MODEL_FOR: dict[str, str] = {
    "gpt-3.5": "claude-haiku-4-5",
    "gpt-4o-mini": "claude-haiku-4-5",
    "gpt-4.1-mini": "claude-haiku-4-5",
    "gpt-4.1-nano": "claude-haiku-4-5",
    "gpt-5-mini": "claude-haiku-4-5",
    "gpt-5-nano": "claude-haiku-4-5",
    "o1-mini": "claude-haiku-4-5",
    "o3-mini": "claude-haiku-4-5",
    "o4-mini": "claude-haiku-4-5",
    "gpt-4": "claude-sonnet-4-5",
    "gpt-4o": "claude-sonnet-4-5",
    "gpt-4.1": "claude-sonnet-4-5",
    "gpt-5": "claude-sonnet-4-5",
    "o1": "claude-opus-4-1",
    "o3": "claude-opus-4-1",
}
DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-4-5"
_MODEL_PREFIXES = sorted(ANTHROPIC_MODEL_FOR, key=len, reverse=True)

_RENAMES = {
    "openai": {"stop_sequences": "stop"},
    "anthropic": {"stop": "stop_sequences"},
}
_ACCEPTED = {"openai": OPENAI_PARAMS, "anthropic": ANTHROPIC_PARAMS}


def _split_params(
    provider: str, params: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    renames = _RENAMES[provider]
    accepted = _ACCEPTED[provider]
    kept: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in params.items():
        name = renames.get(key, key)
        if name in accepted:
            kept[name] = value
        else:
            rest[key] = value
    return kept, rest


def dropped_params(params: Mapping[str, Any]) -> dict[str, list[str]]:
    """Per provider, the params the default adapters leave out (sorted; empty lists omitted)."""
    out: dict[str, list[str]] = {}
    for provider in ("anthropic", "openai"):
        _, rest = _split_params(provider, params)
        if rest:
            out[provider] = sorted(rest)
    return out


def _apply_unsupported(
    provider: str, kwargs: dict[str, Any], rest: dict[str, Any], unsupported: Unsupported
) -> dict[str, Any]:
    if not rest:
        return kwargs
    if unsupported == "drop":
        return kwargs
    if unsupported == "extra_body":
        kwargs["extra_body"] = dict(rest)
        return kwargs
    if unsupported == "raise":
        names = sorted(rest)
        raise InvalidInputError(
            f"{provider} does not accept {', '.join(names)}",
            details={"field": f"config.{names[0]}", "params": names, "provider": provider},
        )
    raise InvalidInputError(
        f"unsupported must be 'drop', 'extra_body' or 'raise', not {unsupported!r}",
        details={"field": "unsupported", "value": unsupported},
    )


def _require_model(model: str | None, provider: str) -> str:
    if not model:
        raise InvalidInputError(
            f"the prompt's config has no model, which {provider} requires",
            details={"field": "config.model", "provider": provider},
        )
    return model


def anthropic_model(model: str) -> str:
    """The Anthropic model for a config's ``model``: Claude models as they are, others mapped.

    ``gpt-4`` -> ``claude-sonnet-4-5``, ``gpt-4o-mini`` -> ``claude-haiku-4-5``; a model
    name neither Claude nor known falls back to :data:`DEFAULT_ANTHROPIC_MODEL`.
    """
    if model.startswith("claude"):
        return model
    for prefix in _MODEL_PREFIXES:
        if model == prefix or model.startswith((f"{prefix}-", f"{prefix}.")):
            return ANTHROPIC_MODEL_FOR[prefix]
    return DEFAULT_ANTHROPIC_MODEL


def openai_kwargs(
    messages: Sequence[Mapping[str, Any]],
    model: str | None,
    params: Mapping[str, Any],
    *,
    unsupported: Unsupported = "drop",
) -> dict[str, Any]:
    """Keyword arguments for openai's ``client.chat.completions.create``."""
    kept, rest = _split_params("openai", params)
    kwargs: dict[str, Any] = {
        "model": _require_model(model, "openai"),
        "messages": [dict(m) for m in messages],
        **kept,
    }
    return _apply_unsupported("openai", kwargs, rest, unsupported)


def _as_blocks(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return list(content)
    return []  # None: an assistant turn that only carried tool calls elsewhere


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, str) and isinstance(b, str):
        return f"{a}\n\n{b}" if a and b else a or b
    return _as_blocks(a) + _as_blocks(b)


def anthropic_kwargs(
    messages: Sequence[Mapping[str, Any]],
    model: str | None,
    params: Mapping[str, Any],
    *,
    unsupported: Unsupported = "drop",
    default_max_tokens: int = DEFAULT_ANTHROPIC_MAX_TOKENS,
) -> dict[str, Any]:
    """Keyword arguments for anthropic's ``client.messages.create``."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            text = content if isinstance(content, str) else _blocks_text(content)
            if text:
                system.append(text)
            continue
        if role not in ("user", "assistant"):
            raise InvalidInputError(
                f"messages[{index}] has role {role!r}, which the Anthropic messages API does "
                "not take: send tool results as user content blocks of type 'tool_result'",
                details={"field": f"messages[{index}].role", "value": role},
            )
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] = _merge(turns[-1]["content"], content)
        else:
            turns.append({"role": role, "content": content if content is not None else ""})
    if not turns:
        raise InvalidInputError(
            "the Anthropic messages API needs at least one user or assistant message",
            details={"field": "messages"},
        )
    kept, rest = _split_params("anthropic", params)
    if kept.get("max_tokens") is None:  # absent or null in the config
        kept["max_tokens"] = default_max_tokens
    kwargs: dict[str, Any] = {
        "model": anthropic_model(_require_model(model, "anthropic")),
        "max_tokens": kept.pop("max_tokens"),
        "messages": turns,
    }
    if system:
        kwargs["system"] = "\n\n".join(system)
    kwargs.update(kept)
    return _apply_unsupported("anthropic", kwargs, rest, unsupported)


def _blocks_text(content: Any) -> str:
    if not isinstance(content, list):
        return ""
    return "\n".join(
        str(b.get("text", ""))
        for b in content
        if isinstance(b, Mapping) and b.get("type") == "text"
    )
