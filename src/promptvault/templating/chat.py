"""Chat templates: a list of role/content messages, each content a template, plus placeholders.

A chat template is written as::

    [
        {"role": "system", "content": "You help customers of {{company}}."},
        {"type": "placeholder", "name": "history", "optional": True},
        {"role": "user", "content": "{{question}}"},
    ]

Every ``content`` is compiled once with the chosen syntax. A placeholder is replaced at render
time by a list of messages passed in ``placeholders=``; those messages are inserted literally
(never re-read as template text), so a conversation history cannot inject template code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptvault.errors import (
    InvalidInputError,
    MissingVariablesError,
    TemplateError,
    TemplateSyntaxError,
)
from promptvault.templating.base import (
    Limits,
    PartialSource,
    Template,
    TemplateSyntaxName,
)

__all__ = ["ROLES", "ChatTemplate", "compile_chat", "merge_schemas"]

ROLES: frozenset[str] = frozenset({"assistant", "system", "tool", "user"})

# Content of a message inserted through a placeholder is data, not template: plain text,
# a list of content parts (images, tool results) or None (an assistant turn with tool calls).
_INSERTED_CONTENT_TYPES = (str, list, type(None))


@dataclass(frozen=True, slots=True)
class _Message:
    role: str
    template: Template
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Placeholder:
    name: str
    optional: bool


class ChatTemplate:
    """A compiled chat template; render it to a list of ``{"role", "content", ...}`` dicts."""

    def __init__(
        self,
        items: Sequence[_Message | _Placeholder],
        *,
        syntax: TemplateSyntaxName,
        messages: list[dict[str, Any]],
    ) -> None:
        self._items = tuple(items)
        self.syntax: TemplateSyntaxName = syntax
        self.messages = messages  # the source spec, as given (copied)
        names: set[str] = set()
        for item in self._items:
            if isinstance(item, _Message):
                names |= item.template.variables
        self._variables = frozenset(names)

    @property
    def variables(self) -> frozenset[str]:
        """Every top-level variable any message reads."""
        return self._variables

    @property
    def placeholders(self) -> tuple[str, ...]:
        """Placeholder names, in the order they appear."""
        return tuple(i.name for i in self._items if isinstance(i, _Placeholder))

    def schema(self) -> dict[str, Any]:
        """The merged inferred JSON Schema of all messages."""
        merged: dict[str, Any] = {"type": "object", "properties": {}}
        for item in self._items:
            if isinstance(item, _Message):
                merged = merge_schemas(merged, item.template.schema())
        return merged

    def render(
        self,
        data: Mapping[str, Any],
        *,
        placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        strict: bool = True,
    ) -> list[dict[str, Any]]:
        """Render every message; strict reports all missing variables and placeholders at once.

        Each missing entry carries ``message`` (the index in the template's message list) next
        to the name, line and column, so an editor can point at the right message.
        """
        given = dict(placeholders or {})
        known = set(self.placeholders)
        unknown = sorted(set(given) - known)
        if strict and unknown:
            raise InvalidInputError(
                f"no placeholder named {unknown[0]!r} in this chat template",
                details={"field": f"placeholders.{unknown[0]}", "known": sorted(known)},
            )
        out: list[dict[str, Any]] = []
        missing: list[dict[str, Any]] = []
        for index, item in enumerate(self._items):
            if isinstance(item, _Placeholder):
                if item.name in given:
                    out.extend(_inserted_messages(item.name, given[item.name]))
                elif strict and not item.optional:
                    missing.append({"name": item.name, "kind": "placeholder", "message": index})
                continue
            try:
                content = item.template.render(data, strict=strict)
            except MissingVariablesError as err:
                missing.extend({**m, "message": index} for m in err.missing)
                continue
            except TemplateError as err:
                err.details.setdefault("field", f"messages[{index}].content")
                err.details.setdefault("message", index)
                raise
            out.append({"role": item.role, "content": content, **item.extra})
        if missing:
            raise MissingVariablesError(missing, message=_missing_message(missing))
        return out

    def __repr__(self) -> str:
        return f"<ChatTemplate {self.syntax} {len(self._items)} items>"


def compile_chat(
    messages: Sequence[Mapping[str, Any]],
    *,
    syntax: TemplateSyntaxName = "mustache",
    partials: PartialSource | None = None,
    limits: Limits | None = None,
) -> ChatTemplate:
    """Validate and compile a chat template; errors name ``messages[i].<field>``."""
    from promptvault.templating import compile_template  # the package imports this module

    spec: Any = messages  # callers pass parsed JSON/YAML: check the shape at run time
    if isinstance(spec, (str, bytes)) or not isinstance(spec, Sequence):
        raise InvalidInputError(
            "a chat template must be a list of messages",
            details={"field": "messages"},
        )
    if syntax not in ("mustache", "jinja", "langfuse"):
        raise InvalidInputError(
            f"unknown template syntax {syntax!r}: use 'mustache', 'jinja' or 'langfuse'",
            details={"field": "syntax", "value": repr(syntax)},
        )
    if not spec:
        raise InvalidInputError(
            "a chat template needs at least one message or placeholder",
            details={"field": "messages"},
        )
    items: list[_Message | _Placeholder] = []
    seen: set[str] = set()
    for index, raw in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(raw, Mapping):
            raise InvalidInputError(
                f"{where} must be an object with role and content",
                details={"field": where, "message": index},
            )
        kind = raw.get("type", "message")
        if kind == "placeholder":
            items.append(_placeholder(raw, index, seen))
            continue
        if kind != "message":
            raise InvalidInputError(
                f"{where}.type must be 'message' or 'placeholder', not {kind!r}",
                details={"field": f"{where}.type", "message": index, "value": kind},
            )
        role = _check_role(raw.get("role"), f"{where}.role", index)
        content = raw.get("content")
        if not isinstance(content, str):
            raise InvalidInputError(
                f"{where}.content must be a template string",
                details={"field": f"{where}.content", "message": index},
            )
        try:
            template = compile_template(content, syntax=syntax, partials=partials, limits=limits)
        except TemplateSyntaxError as err:
            details = {**err.details, "field": f"{where}.content", "message": index}
            raise TemplateSyntaxError(
                f"{where}.content: {err.reason}",
                line=err.line,
                column=err.column,
                details=details,
            ) from err
        except TemplateError as err:
            err.details.setdefault("field", f"{where}.content")
            err.details.setdefault("message", index)
            raise
        extra = {k: v for k, v in raw.items() if k not in ("role", "content", "type")}
        items.append(_Message(role, template, extra))
    return ChatTemplate(items, syntax=syntax, messages=[dict(m) for m in messages])


def merge_schemas(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Merge two inferred object schemas: union of properties, structured types win.

    A name read as a plain string in one message and as a section or object in another is
    recorded with the structured type, which is the stricter description of the data.
    """
    if a.get("type") != b.get("type"):
        if a.get("type") in (None, "string"):
            return dict(b)
        if b.get("type") in (None, "string"):
            return dict(a)
        return dict(a)
    merged = dict(a)
    for key, value in b.items():
        if key == "properties":
            props = dict(a.get("properties", {}))
            for name, sub in value.items():
                props[name] = merge_schemas(props[name], sub) if name in props else sub
            merged["properties"] = props
        elif key == "required":
            merged["required"] = sorted(set(a.get("required", [])) | set(value))
        elif key == "items" and "items" in a:
            merged["items"] = merge_schemas(a["items"], value)
        else:
            merged.setdefault(key, value)
    return merged


def _check_role(role: Any, fieldname: str, index: int) -> str:
    if not isinstance(role, str) or role not in ROLES:
        raise InvalidInputError(
            f"{fieldname} must be one of {', '.join(sorted(ROLES))}, not {role!r}",
            details={"field": fieldname, "message": index, "value": repr(role)},
        )
    return role


def _placeholder(raw: Mapping[str, Any], index: int, seen: set[str]) -> _Placeholder:
    where = f"messages[{index}]"
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInputError(
            f"{where}.name must be a non-empty placeholder name",
            details={"field": f"{where}.name", "message": index},
        )
    if name in seen:
        raise InvalidInputError(
            f"placeholder {name!r} appears twice",
            details={"field": f"{where}.name", "message": index, "value": name},
        )
    seen.add(name)
    optional = raw.get("optional", False)
    if not isinstance(optional, bool):
        raise InvalidInputError(
            f"{where}.optional must be true or false",
            details={"field": f"{where}.optional", "message": index},
        )
    return _Placeholder(name, optional)


def _inserted_messages(name: str, value: Any) -> list[dict[str, Any]]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise InvalidInputError(
            f"placeholder {name!r} must be given a list of messages",
            details={"field": f"placeholders.{name}"},
        )
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(value):
        where = f"placeholders.{name}[{i}]"
        if not isinstance(msg, Mapping):
            raise InvalidInputError(
                f"{where} must be an object with role and content",
                details={"field": where},
            )
        role = msg.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise InvalidInputError(
                f"{where}.role must be one of {', '.join(sorted(ROLES))}, not {role!r}",
                details={"field": f"{where}.role", "value": repr(role)},
            )
        if not isinstance(msg.get("content"), _INSERTED_CONTENT_TYPES):
            raise InvalidInputError(
                f"{where}.content must be text, a list of content parts or null",
                details={"field": f"{where}.content"},
            )
        out.append(dict(msg))
    return out


def _missing_message(missing: list[dict[str, Any]]) -> str:
    parts = []
    for m in missing:
        if m.get("kind") == "placeholder":
            parts.append(f"placeholder {m['name']} (message {m['message']})")
        elif m.get("line") is not None:
            parts.append(
                f"{m.get('name')} (message {m['message']}, line {m['line']}, "
                f"column {m.get('column')})"
            )
        else:
            parts.append(f"{m.get('name')} (message {m['message']})")
    return "missing variables: " + ", ".join(parts)
