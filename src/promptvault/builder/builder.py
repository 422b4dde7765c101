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
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
from promptvault.templating.base import PartialSource, Template

__all__ = ["BuildMetadata", "BuiltRequest", "PromptBuilder", "build_request"]

_CONFIG_KEYS = frozenset({"model", "role"})  # config keys that are not request params
_TEXT_ROLES = ("user", "system")


class BuildMetadata(NamedTuple):
    """Where a built request came from and what went into it.

    An immutable named tuple: it is made on every build, and a tuple is the cheapest
    immutable record Python has.
    """

    prompt: str
    version: int
    hash: str
    label: str | None = None
    experiment: str | None = None
    variant: str | None = None
    example_ids: list[int] = []  # noqa: RUF012 - never mutated; each build passes its own
    examples_used: int = 0
    examples_as: Literal["text", "messages"] | None = None
    examples_reason: str | None = None  # why no examples were used, when none were
    render_us: float = 0.0
    now: str = ""
    dropped_params: dict[str, list[str]] = {}  # noqa: RUF012 - as above

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        out = self._asdict()
        out["example_ids"] = list(self.example_ids)
        out["dropped_params"] = {k: list(v) for k, v in self.dropped_params.items()}
        return out


@dataclass(frozen=True, slots=True)
class BuiltRequest:
    """A provider-neutral request: messages with roles, model, params and metadata.

    A plain frozen dataclass rather than a pydantic model: it is built on every request and
    every field is already checked, so construction must cost next to nothing.
    """

    messages: list[dict[str, Any]]
    model: str | None
    params: dict[str, Any]
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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (``{"messages", "model", "params", "metadata"}``)."""
        return {
            "messages": [dict(m) for m in self.messages],
            "model": self.model,
            "params": dict(self.params),
            "metadata": self.metadata.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BuiltRequest:
        """Rebuild from :meth:`to_dict` output (for example an HTTP response body)."""
        try:
            meta = dict(data["metadata"])
            known = set(BuildMetadata._fields)
            return cls(
                messages=[dict(m) for m in data["messages"]],
                model=data.get("model"),
                params=dict(data.get("params") or {}),
                metadata=BuildMetadata(**{k: v for k, v in meta.items() if k in known}),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(
                f"not a built request: {exc}", details={"field": "request"}
            ) from exc


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Everything about a version that does not change between builds."""

    template: Any  # the source, kept to check a cache hit really is the same content
    config: dict[str, Any]
    compiled: ChatTemplate | Template
    role: str
    params: dict[str, Any]
    model: str | None
    dropped: dict[str, list[str]]
    reads_examples: bool


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

    Holds the time zone and an LRU cache of prepared versions (compiled template, params,
    dropped params), so one builder per process is the intended use.
    """

    def __init__(self, *, timezone: str = "UTC", cache_size: int = 256) -> None:
        self.timezone = timezone
        self._tz = _zone(timezone)
        self._prepared: OrderedDict[tuple[Any, ...], _Prepared] = OrderedDict()
        self._live: tuple[int, str] = (-1, "")
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
        stamp = self._stamp(now)
        data: dict[str, Any] = {"now": stamp, "today": stamp[:10]}
        if variables:
            data.update(variables)
        prep = self._prepare(version, partials)
        text_examples = prep.reads_examples
        if text_examples and "examples" not in (variables or {}):
            data["examples"] = _examples_text(chosen, example_template)
        examples_as: Literal["text", "messages"] | None = None
        if chosen:
            examples_as = "text" if text_examples else "messages"

        compiled = prep.compiled
        if isinstance(compiled, ChatTemplate):
            places = compiled.placeholders
            filled: dict[str, Sequence[Mapping[str, Any]]] = {}
            if "examples" in places:
                filled["examples"] = [] if text_examples else example_messages(chosen)
            history_inline = turns is not None and history_placeholder in places
            if history_inline:
                filled[history_placeholder] = turns or []
            messages = compiled.render(data, placeholders=filled, strict=strict)
            examples_inline = "examples" in places
        else:
            messages = [{"role": prep.role, "content": compiled.render(data, strict=strict)}]
            history_inline = examples_inline = False
        # History first, so "the last user message" is the template's, not an example's.
        if turns and not history_inline:
            messages = _before_last_user(messages, turns)
        if chosen and not text_examples and not examples_inline:
            messages = _after_system(messages, example_messages(chosen))

        if chosen:
            reason = None
        elif examples_reason is not None:
            reason = examples_reason
        else:
            reason = "no examples requested" if examples is None else "no examples selected"
        metadata = BuildMetadata(
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
            now=stamp,
            dropped_params={k: list(v) for k, v in prep.dropped.items()} if prep.dropped else {},
        )
        return BuiltRequest(
            messages=messages, model=prep.model, params=dict(prep.params), metadata=metadata
        )

    def _stamp(self, now: datetime | None) -> str:
        """``now`` as ISO 8601 in the builder's zone, to the second."""
        if now is None:
            # The live clock only changes the stamp once a second: reuse it until then.
            second = int(time.time())
            cached = self._live
            if cached[0] == second:
                return cached[1]
            stamp = datetime.fromtimestamp(second, self._tz).isoformat(timespec="seconds")
            self._live = (second, stamp)
            return stamp
        if not isinstance(now, datetime):
            raise InvalidInputError(
                f"now must be a datetime, not {type(now).__name__}", details={"field": "now"}
            )
        clock = now.replace(tzinfo=self._tz) if now.tzinfo is None else now.astimezone(self._tz)
        return clock.isoformat(timespec="seconds")

    def _prepare(self, version: PromptVersion, partials: PartialSource | None) -> _Prepared:
        if partials is not None and not isinstance(partials, Mapping):
            # A resolver may answer differently over time: prepare every time.
            return _prepare(version, partials)
        # The content hash identifies template + config; the equality checks below guard
        # against hand-built versions that reuse a hash for different content.
        key = (version.hash, version.type, version.syntax, *sorted((partials or {}).items()))
        prep = self._prepared.get(key)
        if prep is not None and prep.template == version.template and prep.config == version.config:
            self._prepared.move_to_end(key)
            return prep
        prep = _prepare(version, partials)
        self._prepared[key] = prep
        if len(self._prepared) > self._cache_size:
            self._prepared.popitem(last=False)
        return prep


def _prepare(version: PromptVersion, partials: PartialSource | None) -> _Prepared:
    config = dict(version.config)
    role = config.get("role", "user")
    compiled: ChatTemplate | Template
    if version.type == "chat":
        if not isinstance(version.template, list):
            raise InvalidInputError(
                "a chat prompt's template must be a list of messages",
                details={"field": "template"},
            )
        compiled = compile_chat(version.template, syntax=version.syntax, partials=partials)
    else:
        if not isinstance(version.template, str):
            raise InvalidInputError(
                "a text prompt's template must be a string", details={"field": "template"}
            )
        if role not in _TEXT_ROLES:
            raise InvalidInputError(
                f"config.role must be 'user' or 'system', not {role!r}",
                details={"field": "config.role", "value": role},
            )
        compiled = compile_template(version.template, syntax=version.syntax, partials=partials)
    params = {k: v for k, v in config.items() if k not in _CONFIG_KEYS}
    model = config.get("model")
    return _Prepared(
        template=version.template,
        config=config,
        compiled=compiled,
        role=str(role),
        params=params,
        model=str(model) if model is not None else None,
        dropped=dropped_params(params),
        reads_examples="examples" in compiled.variables,
    )


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
