"""The builder: a resolved prompt version + variables + examples -> a provider-neutral request.

Pure: no I/O. The Vault (or the SDK) resolves the reference, runs experiment assignment and
selects examples; :meth:`PromptBuilder.build` renders and assembles. The rules:

**Variables.** Every template sees the built-ins ``now`` (ISO 8601 with offset, seconds) and
``today`` (``YYYY-MM-DD``) in the configured time zone, taken from the injectable ``now``
clock (a naive ``now`` is read as wall time in that zone). Variables the caller passes win
over built-ins of the same name, so a template can be rendered "as of" a given date.
Rendering is strict by default: missing variables raise ``MissingVariablesError``.

**Messages.** A chat prompt renders to its messages. A text prompt becomes one message whose
role is the config's ``role`` (``"user"`` by default, or ``"system"``).

**Examples.** Selected examples go, in this order of preference:

1. into the ``examples`` variable, when the template reads it (``{{{examples}}}``): the
   examples formatted as text (default ``Example {i}:\\nInput: ...\\nOutput: ...`` or the
   collection's Mustache template) joined by blank lines; ``""`` when there are none, so
   ``{{#examples}}...{{/examples}}`` hides a heading. Passing an ``examples`` variable as
   well is an error (which one would be meant?).
2. into a chat template's placeholder named ``examples``, as alternating user/assistant
   messages;
3. otherwise as alternating user/assistant messages right after the leading system
   message(s) — before any history and the current question, where few-shot turns belong.

**History.** Messages passed as ``history`` fill the chat placeholder named ``history``
(``history_placeholder``) when the template has one; otherwise they are inserted before the
last user message (or appended when there is none), which for a text prompt means before
its single user message.

**Config.** ``model`` names the model; ``role`` is the text prompt's role; every other key
(``temperature``, ``max_tokens``, ``top_p``, any provider param) goes to ``params``. The
adapters (``to_openai`` / ``to_anthropic``) keep what each SDK accepts; see
:mod:`promptvault.builder.adapters` and ``metadata.dropped_params``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from promptvault.builder.adapters import (
    DEFAULT_ANTHROPIC_MAX_TOKENS,
    Unsupported,
    anthropic_kwargs,
    dropped_params,
    openai_kwargs,
)
from promptvault.builder.examples import example_messages, format_examples
from promptvault.entities import Example, PromptVersion
from promptvault.errors import InvalidInputError
from promptvault.templating import ChatTemplate, compile_chat, compile_template
from promptvault.templating.base import PartialSource

__all__ = ["BuildMetadata", "BuiltRequest", "PromptBuilder", "build_request"]

_CONFIG_KEYS = frozenset({"model", "role"})  # config keys that are not request params
_TEXT_ROLES = ("user", "system")


class BuildMetadata(BaseModel):
    """Where a built request came from and what went into it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: str
    version: int
    hash: str
    label: str | None = None
    experiment: str | None = None
    variant: str | None = None
    example_ids: list[int] = Field(default_factory=list)
    examples_used: int = 0
    examples_as: Literal["text", "messages"] | None = None
    examples_reason: str | None = None  # why no examples were used, when none were
    render_us: float = 0.0
    now: str = ""
    dropped_params: dict[str, list[str]] = Field(default_factory=dict)


class BuiltRequest(BaseModel):
    """A provider-neutral request: messages with roles, model, params and metadata."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    messages: list[dict[str, Any]]
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    metadata: BuildMetadata

    def to_openai(self, *, unsupported: Unsupported = "drop") -> dict[str, Any]:
        """Keyword arguments for openai's ``client.chat.completions.create(**kwargs)``."""
        return openai_kwargs(self.messages, self.model, self.params, unsupported=unsupported)

    def to_anthropic(
        self,
        *,
        unsupported: Unsupported = "drop",
        default_max_tokens: int = DEFAULT_ANTHROPIC_MAX_TOKENS,
    ) -> dict[str, Any]:
        """Keyword arguments for anthropic's ``client.messages.create(**kwargs)``."""
        return anthropic_kwargs(
            self.messages,
            self.model,
            self.params,
            unsupported=unsupported,
            default_max_tokens=default_max_tokens,
        )


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(
            f"unknown time zone {name!r}", details={"field": "timezone", "value": name}
        ) from exc


class PromptBuilder:
    """Renders resolved prompt versions into :class:`BuiltRequest` values.

    Holds the time zone and a small cache of compiled chat templates (text templates are
    cached by the template engine itself), so one builder per process is the intended use.
    """

    def __init__(self, *, timezone: str = "UTC", cache_size: int = 256) -> None:
        self.timezone = timezone
        self._tz = _zone(timezone)
        self._chats: OrderedDict[tuple[Any, ...], ChatTemplate] = OrderedDict()
        self._cache_size = cache_size

    def build(
        self,
        version: PromptVersion,
        variables: Mapping[str, Any] | None = None,
        *,
        examples: Sequence[Example] | None = None,
        examples_reason: str | None = None,
        example_template: str | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        history_placeholder: str = "history",
        now: datetime | None = None,
        partials: PartialSource | None = None,
        strict: bool = True,
    ) -> BuiltRequest:
        """Render ``version`` with ``variables`` and assemble the request (rules above)."""
        started = time.perf_counter_ns()
        if variables is not None and not isinstance(variables, Mapping):
            raise InvalidInputError(
                "variables must be an object of name -> value", details={"field": "variables"}
            )
        chosen = list(examples or ())
        turns = _check_history(history)
        if chosen and variables is not None and "examples" in variables:
            raise InvalidInputError(
                "'examples' is both a variable and the selected examples; rename the variable",
                details={"field": "variables.examples"},
            )
        clock = self._now(now)
        data: dict[str, Any] = {
            "now": clock.isoformat(timespec="seconds"),
            "today": clock.date().isoformat(),
        }
        if variables:
            data.update(variables)
        config = version.config
        examples_as: Literal["text", "messages"] | None = None

        if version.type == "chat":
            if not isinstance(version.template, list):
                raise InvalidInputError(
                    "a chat prompt's template must be a list of messages",
                    details={"field": "template"},
                )
            chat = self._chat(version, partials)
            places = chat.placeholders
            text_examples = "examples" in chat.variables
            if text_examples and "examples" not in (variables or {}):
                data["examples"] = _examples_text(chosen, example_template)
            filled: dict[str, Sequence[Mapping[str, Any]]] = {}
            if "examples" in places:
                filled["examples"] = [] if text_examples else example_messages(chosen)
            history_inline = turns is not None and history_placeholder in places
            if history_inline:
                filled[history_placeholder] = turns or []
            messages = chat.render(data, placeholders=filled, strict=strict)
            # History first, so "the last user message" is the template's, not an example's.
            if turns and not history_inline:
                messages = _before_last_user(messages, turns)
            if chosen:
                examples_as = "text" if text_examples else "messages"
                if not text_examples and "examples" not in places:
                    messages = _after_system(messages, example_messages(chosen))
        else:
            if not isinstance(version.template, str):
                raise InvalidInputError(
                    "a text prompt's template must be a string", details={"field": "template"}
                )
            role = config.get("role", "user")
            if role not in _TEXT_ROLES:
                raise InvalidInputError(
                    f"config.role must be 'user' or 'system', not {role!r}",
                    details={"field": "config.role", "value": role},
                )
            template = compile_template(version.template, syntax=version.syntax, partials=partials)
            text_examples = "examples" in template.variables
            if text_examples and "examples" not in (variables or {}):
                data["examples"] = _examples_text(chosen, example_template)
            messages = [{"role": role, "content": template.render(data, strict=strict)}]
            if turns:
                messages = _before_last_user(messages, turns)
            if chosen:
                examples_as = "text" if text_examples else "messages"
                if not text_examples:
                    messages = _after_system(messages, example_messages(chosen))

        params = {k: v for k, v in config.items() if k not in _CONFIG_KEYS}
        model = config.get("model")
        if chosen:
            reason = None
        elif examples_reason is not None:
            reason = examples_reason
        else:
            reason = "no examples requested" if examples is None else "no examples selected"
        # Every field is built right here from checked values: skip re-validation, which
        # would copy each message dict again on the hot path.
        metadata = BuildMetadata.model_construct(
            prompt=version.name,
            version=version.version,
            hash=version.hash,
            label=version.resolved_label,
            experiment=version.experiment,
            variant=version.variant,
            example_ids=[e.id for e in chosen],
            examples_used=len(chosen),
            examples_as=examples_as,
            examples_reason=reason,
            render_us=(time.perf_counter_ns() - started) / 1000.0,
            now=clock.isoformat(timespec="seconds"),
            dropped_params=dropped_params(params),
        )
        return BuiltRequest.model_construct(
            messages=messages,
            model=str(model) if model is not None else None,
            params=params,
            metadata=metadata,
        )

    def _now(self, now: datetime | None) -> datetime:
        if now is None:
            return datetime.now(self._tz)
        if not isinstance(now, datetime):
            raise InvalidInputError(
                f"now must be a datetime, not {type(now).__name__}", details={"field": "now"}
            )
        if now.tzinfo is None:
            return now.replace(tzinfo=self._tz)
        return now.astimezone(self._tz)

    def _chat(self, version: PromptVersion, partials: PartialSource | None) -> ChatTemplate:
        if partials is not None and not isinstance(partials, Mapping):
            # A resolver may answer differently over time: compile every time.
            return compile_chat(version.template, syntax=version.syntax, partials=partials)  # type: ignore[arg-type]
        key = (
            version.syntax,
            repr(version.template),
            tuple(sorted(partials.items())) if partials else (),
        )
        chat = self._chats.get(key)
        if chat is None:
            chat = compile_chat(version.template, syntax=version.syntax, partials=partials)  # type: ignore[arg-type]
            self._chats[key] = chat
            if len(self._chats) > self._cache_size:
                self._chats.popitem(last=False)
        else:
            self._chats.move_to_end(key)
        return chat


_HISTORY_ROLES = frozenset({"assistant", "system", "tool", "user"})


def _check_history(history: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    if history is None:
        return None
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Sequence):
        raise InvalidInputError("history must be a list of messages", details={"field": "history"})
    out: list[dict[str, Any]] = []
    for i, message in enumerate(history):
        where = f"history[{i}]"
        if not isinstance(message, Mapping):
            raise InvalidInputError(
                f"{where} must be an object with role and content", details={"field": where}
            )
        role = message.get("role")
        if role not in _HISTORY_ROLES:
            raise InvalidInputError(
                f"{where}.role must be one of {', '.join(sorted(_HISTORY_ROLES))}, not {role!r}",
                details={"field": f"{where}.role", "value": repr(role)},
            )
        if not isinstance(message.get("content"), (str, list, type(None))):
            raise InvalidInputError(
                f"{where}.content must be text, a list of content parts or null",
                details={"field": f"{where}.content"},
            )
        out.append(dict(message))
    return out


def _examples_text(examples: Sequence[Example], template: str | None) -> str:
    return format_examples(examples, template=template) if examples else ""


def _after_system(
    messages: list[dict[str, Any]], extra: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    at = 0
    while at < len(messages) and messages[at].get("role") == "system":
        at += 1
    return messages[:at] + extra + messages[at:]


def _before_last_user(
    messages: list[dict[str, Any]], extra: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    for at in range(len(messages) - 1, -1, -1):
        if messages[at].get("role") == "user":
            return messages[:at] + extra + messages[at:]
    return messages + extra


_DEFAULT_BUILDERS: dict[str, PromptBuilder] = {}


def build_request(
    version: PromptVersion,
    variables: Mapping[str, Any] | None = None,
    *,
    timezone: str = "UTC",
    **options: Any,
) -> BuiltRequest:
    """One-call form of :meth:`PromptBuilder.build` with a shared builder per time zone."""
    builder = _DEFAULT_BUILDERS.get(timezone)
    if builder is None:
        builder = _DEFAULT_BUILDERS.setdefault(timezone, PromptBuilder(timezone=timezone))
    return builder.build(version, variables, **options)
