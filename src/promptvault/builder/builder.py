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

**Placeholders.** ``placeholders={"name": [messages]}`` fills a chat template's placeholders
by name, as ``render`` does (the messages are inserted as data, every field kept). A
placeholder filled this way is not also filled by ``history`` or the examples: naming
``history`` or ``examples`` here as well as passing ``history=`` or selected examples is an
error.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from promptvault.builder.adapters import (
    DEFAULT_ANTHROPIC_MAX_TOKENS,
    Unsupported,
    anthropic_kwargs,
    dropped_params,
    openai_kwargs,
)
from promptvault.builder.examples import example_messages, format_examples
from promptvault.entities import Example, PromptVersion, refuse_lone_surrogates
from promptvault.errors import InvalidInputError
from promptvault.templating import ChatTemplate, compile_chat, compile_template
from promptvault.templating.base import Limits, PartialSource, Template
from promptvault.templating.builtins import Builtins
from promptvault.templating.variables import (
    DataChecker,
    DefaultsFiller,
    data_checker,
    defaults_filler,
    integer_too_long_error,
)

__all__ = ["BuildMetadata", "BuiltRequest", "PromptBuilder", "build_request"]

_CONFIG_KEYS = frozenset({"model", "role"})  # config keys that are not request params
_TEXT_ROLES = ("user", "system")


class BuildMetadata(NamedTuple):
    """Where a built request came from and what went into it.

    An immutable named tuple: it is made on every build, and a tuple is the cheapest
    immutable record Python has. ``collection`` and ``strategy`` name where the examples
    came from when a collection was used.
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
    collection: str | None = None
    strategy: str | None = None

    def otel_attributes(self) -> dict[str, Any]:
        """OpenTelemetry span attributes naming what produced this request, for an
        application's own LLM span (GenAI ``gen_ai.prompt.name``, then ``promptvault.*``)."""
        out: dict[str, Any] = {
            "gen_ai.prompt.name": self.prompt,
            "promptvault.prompt.version": self.version,
            "promptvault.prompt.hash": self.hash,
        }
        if self.label:
            out["promptvault.prompt.label"] = self.label
        if self.experiment:
            out["promptvault.experiment"] = self.experiment
        if self.variant:
            out["promptvault.variant"] = self.variant
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        out = self._asdict()
        out["example_ids"] = list(self.example_ids)
        out["dropped_params"] = {k: list(v) for k, v in self.dropped_params.items()}
        return out


class BuiltRequest(NamedTuple):
    """A provider-neutral request: messages with roles, model, params and metadata.

    An immutable named tuple rather than a pydantic model or a frozen dataclass: it is
    built on every request and every field is already checked, so construction must cost
    next to nothing (a frozen dataclass pays one ``object.__setattr__`` per field).
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
    syntax: str
    compiled: ChatTemplate | Template
    is_chat: bool
    role: str
    params: dict[str, Any]
    model: str | None
    dropped: dict[str, list[str]]
    reads_examples: bool
    defaults: DefaultsFiller | None  # fills declared defaults; None when there are none
    check: DataChecker | None  # checks the caller's values against the schema
    places: frozenset[str]  # chat placeholder names


class PromptBuilder:
    """Renders resolved prompt versions into :class:`BuiltRequest` values.

    Holds the time zone and a cache of prepared versions (compiled template, params,
    dropped params, schema defaults) keyed by content hash, so one builder per process is
    the intended use. A warm build of a prepared version costs one dict lookup, the
    template's own render and the assembly of the answer.
    """

    def __init__(
        self, *, timezone: str = "UTC", cache_size: int = 256, limits: Limits | None = None
    ) -> None:
        self.timezone = timezone
        self.builtins = Builtins(timezone)
        self.limits = limits
        self._prepared: dict[Any, _Prepared] = {}
        self._cache_size = cache_size

    def reads_examples(self, version: PromptVersion) -> bool:
        """Whether the version's template reads ``{{examples}}`` (examples become text)."""
        return self._prepare(version, None).reads_examples

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
        placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        now: datetime | None = None,
        partials: PartialSource | None = None,
        strict: bool = True,
        collection: str | None = None,
        strategy: str | None = None,
    ) -> BuiltRequest:
        """Render ``version`` with ``variables`` and assemble the request (rules above)."""
        started = _perf_ns()
        if (
            variables is not None
            and type(variables) is not dict
            and not isinstance(variables, Mapping)
        ):
            raise InvalidInputError(
                "variables must be an object of name -> value", details={"field": "variables"}
            )
        if variables:  # text only, as the server's request bodies are
            refuse_lone_surrogates(variables, "variables")
        if history:
            refuse_lone_surrogates(history, "history")
        prep = self._prepare(version, partials)
        if prep.check is not None:  # before the built-ins join them
            prep.check(variables if variables is not None else _NO_VARIABLES)
        stamp, today = self.builtins.values(now)
        data: dict[str, Any] = {"now": stamp, "today": today}
        if variables:
            data.update(variables)
        if prep.defaults is not None:  # declared defaults fill what the caller left out
            data = prep.defaults(data)
        chosen = list(examples) if examples else _NO_EXAMPLES
        text_examples = prep.reads_examples
        if chosen and variables is not None and "examples" in variables:
            raise InvalidInputError(
                "'examples' is both a variable and the selected examples; rename the variable",
                details={"field": "variables.examples"},
            )
        if text_examples and (variables is None or "examples" not in variables):
            data["examples"] = format_examples(chosen, template=example_template) if chosen else ""

        if placeholders:
            _check_placeholders(prep, placeholders, history, placeholder=history_placeholder)
            if chosen and "examples" in placeholders:
                raise InvalidInputError(
                    "the 'examples' placeholder is both given and filled by the selected "
                    "examples; give one of them",
                    details={"field": "placeholders.examples"},
                )
        try:
            if history is None and not chosen:
                # The common case: no history, no examples. Nothing to insert anywhere.
                if prep.is_chat:
                    fill = _EMPTY_EXAMPLES if "examples" in prep.places else None
                    if placeholders:
                        fill = {**(fill or {}), **placeholders}
                    messages: list[dict[str, Any]] = prep.compiled.render(  # type: ignore[call-arg,assignment]
                        data, placeholders=fill, strict=strict
                    )
                else:
                    messages = [
                        {"role": prep.role, "content": prep.compiled.render(data, strict=strict)}
                    ]
            else:
                messages = self._assemble(
                    prep,
                    data,
                    chosen,
                    history=history,
                    placeholder=history_placeholder,
                    given=placeholders,
                    strict=strict,
                )
        except ValueError as err:  # str() refused an integer of more than 4,300 digits
            raise integer_too_long_error(data) or err from None

        if chosen:
            reason = None
            examples_as: Literal["text", "messages"] | None = (
                "text" if text_examples else "messages"
            )
        else:
            examples_as = None
            if examples_reason is not None:
                reason = examples_reason
            else:
                reason = "no examples requested" if examples is None else "no examples selected"
        dropped = prep.dropped
        metadata = _new_tuple(
            BuildMetadata,
            (
                version.name,
                version.version,
                version.hash,
                version.resolved_label,
                version.experiment,
                version.variant,
                [e.id for e in chosen] if chosen else [],
                len(chosen),
                examples_as,
                reason,
                (_perf_ns() - started) / 1000.0,
                stamp,
                {k: list(v) for k, v in dropped.items()} if dropped else {},
                collection,
                strategy,
            ),
        )
        built: BuiltRequest = _new_tuple(
            BuiltRequest, (messages, prep.model, prep.params.copy(), metadata)
        )
        return built

    def _assemble(
        self,
        prep: _Prepared,
        data: dict[str, Any],
        chosen: list[Example],
        *,
        history: Sequence[Mapping[str, Any]] | None,
        placeholder: str,
        given: Mapping[str, Sequence[Mapping[str, Any]]] | None,
        strict: bool,
    ) -> list[dict[str, Any]]:
        """Messages with examples and history placed (the rules in the module docstring)."""
        turns = _check_history(history)
        text_examples = prep.reads_examples
        compiled = prep.compiled
        if isinstance(compiled, ChatTemplate):
            places = prep.places
            filled: dict[str, Sequence[Mapping[str, Any]]] = dict(given) if given else {}
            if "examples" in places and "examples" not in filled:
                filled["examples"] = [] if text_examples else example_messages(chosen)
            history_inline = turns is not None and placeholder in places
            if history_inline:
                filled[placeholder] = turns or []
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
        return messages

    def _prepare(self, version: PromptVersion, partials: PartialSource | None) -> _Prepared:
        if partials is not None:
            if not isinstance(partials, Mapping):
                # A resolver may answer differently over time: prepare every time.
                return _prepare(version, partials, self.limits)
            key: Any = (version.hash, *sorted(partials.items()))
        else:
            key = version.hash
        prep = self._prepared.get(key)
        # The content hash identifies template + syntax + config; the checks guard against
        # hand-built versions that reuse a hash for different content (identity first: a
        # cached version object hands back the very same template and config).
        if (
            prep is not None
            and (prep.template is version.template or prep.template == version.template)
            and (prep.config is version.config or prep.config == version.config)
            and prep.syntax == version.syntax
            and prep.is_chat == (version.type == "chat")
        ):
            return prep
        prep = _prepare(version, partials, self.limits)
        if len(self._prepared) >= self._cache_size:
            self._prepared.clear()
        self._prepared[key] = prep
        return prep


def _check_placeholders(
    prep: _Prepared,
    placeholders: Mapping[str, Sequence[Mapping[str, Any]]],
    history: Sequence[Mapping[str, Any]] | None,
    *,
    placeholder: str,
) -> None:
    """``placeholders`` fit this template: a chat prompt's, and not also given as history."""
    if not isinstance(placeholders, Mapping):
        raise InvalidInputError(
            "placeholders must be an object of name -> list of messages",
            details={"field": "placeholders"},
        )
    if not prep.is_chat:
        raise InvalidInputError(
            "placeholders only apply to chat prompts", details={"field": "placeholders"}
        )
    if history is not None and placeholder in placeholders:
        raise InvalidInputError(
            f"the {placeholder!r} placeholder is given twice: as history and in placeholders",
            details={"field": f"placeholders.{placeholder}"},
        )


_NO_EXAMPLES: list[Example] = []
_NO_VARIABLES: Mapping[str, Any] = {}
_EMPTY_EXAMPLES: dict[str, Sequence[Mapping[str, Any]]] = {"examples": ()}
_perf_ns = time.perf_counter_ns
# tuple.__new__ skips the named tuples' generated __new__ (every field is given here).
_new_tuple: Any = tuple.__new__


def _prepare(
    version: PromptVersion, partials: PartialSource | None, limits: Limits | None = None
) -> _Prepared:
    config = dict(version.config)
    role = config.get("role", "user")
    compiled: ChatTemplate | Template
    if version.type == "chat":
        if not isinstance(version.template, list):
            raise InvalidInputError(
                "a chat prompt's template must be a list of messages",
                details={"field": "template"},
            )
        compiled = compile_chat(
            version.template, syntax=version.syntax, partials=partials, limits=limits
        )
        places = frozenset(compiled.placeholders)
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
        compiled = compile_template(
            version.template, syntax=version.syntax, partials=partials, limits=limits
        )
        places = frozenset()
    params = {k: v for k, v in config.items() if k not in _CONFIG_KEYS}
    model = config.get("model")
    return _Prepared(
        template=version.template,
        config=version.config,
        syntax=version.syntax,
        compiled=compiled,
        is_chat=version.type == "chat",
        role=str(role),
        params=params,
        model=str(model) if model is not None else None,
        dropped=dropped_params(params),
        reads_examples="examples" in compiled.variables,
        defaults=defaults_filler(version.variables_schema, syntax=version.syntax),
        check=data_checker(version.variables_schema),
        places=places,
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
