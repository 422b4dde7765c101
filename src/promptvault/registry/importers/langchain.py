"""``langchain``: serialized LangChain prompts (``langchain_core`` ``dumpd`` JSON, or hub files).

Reads ``PromptTemplate`` and ``ChatPromptTemplate`` as ``langchain_core.load.dumpd`` writes
them (``{"lc": 1, "type": "constructor", "id": [...], "kwargs": {...}}``) and the older hub
shape (``{"_type": "prompt", "template": ..., "template_format": ...}``). An f-string
template's ``{var}`` becomes ``{{var}}`` and its ``{{``/``}}`` stay literal braces; a
mustache template is kept; jinja2 becomes promptvault's sandboxed Jinja. Message templates
become chat messages, ``MessagesPlaceholder`` a placeholder. A folder is imported file by
file, each named by its path without ``.json``.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

from promptvault.errors import InvalidInputError
from promptvault.registry.importers import Source
from promptvault.registry.importers._build import ForeignVersion, prompt_item
from promptvault.registry.importers._files import files_named, read_text
from promptvault.registry.importers._text import Piece, to_mustache

__all__ = ["fstring_to_mustache", "read_langchain"]

_ROLES = {
    "SystemMessagePromptTemplate": "system",
    "HumanMessagePromptTemplate": "user",
    "AIMessagePromptTemplate": "assistant",
    "SystemMessage": "system",
    "HumanMessage": "user",
    "AIMessage": "assistant",
}
_SYNTAX = {"f-string": "mustache", "mustache": "mustache", "jinja2": "jinja"}


def fstring_to_mustache(template: str, where: str, notes: list[str]) -> str:
    """Mustache that renders as ``template.format(**vars)`` for plain ``{name}`` fields."""
    pieces: list[Piece] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidInputError(
            f"{where}: not a valid f-string template: {exc}", details={"field": where}
        ) from None
    for literal, field, spec, conversion in parsed:
        if literal:
            pieces.append(literal)
        if field is None:
            continue
        if not field or field.isdigit() or "[" in field:
            raise InvalidInputError(
                f"{where}: field {{{field}}} is not a named variable",
                details={"field": where, "value": field},
            )
        if spec or conversion:
            notes.append(f"{where}: format spec of {{{field}}} dropped (rendered plainly)")
        pieces.append(("var", field))
    return to_mustache(pieces)


def _is(node: Any, kind: str) -> bool:
    ids = node.get("id") if isinstance(node, dict) else None
    return isinstance(ids, list) and bool(ids) and ids[-1] == kind


def _kwargs(node: dict[str, Any]) -> dict[str, Any]:
    kwargs = node.get("kwargs")
    return kwargs if isinstance(kwargs, dict) else node


def _text(node: Any, where: str, notes: list[str]) -> tuple[str, str]:
    """``(syntax, template)`` of a PromptTemplate node (dumpd or hub shape)."""
    if not isinstance(node, dict):
        raise InvalidInputError(f"{where}: not a prompt template", details={"field": where})
    kwargs = _kwargs(node)
    template = kwargs.get("template")
    if not isinstance(template, str):
        raise InvalidInputError(f"{where}: template must be a string", details={"field": where})
    fmt = str(kwargs.get("template_format") or "f-string")
    if fmt not in _SYNTAX:
        raise InvalidInputError(
            f"{where}: template_format {fmt!r} is not f-string, mustache or jinja2",
            details={"field": where, "value": fmt},
        )
    if kwargs.get("partial_variables"):
        notes.append(f"{where}: partial_variables are not kept")
    if fmt == "f-string":
        return "mustache", fstring_to_mustache(template, where, notes)
    return _SYNTAX[fmt], template


def _message(node: Any, index: int, notes: list[str]) -> tuple[str | None, dict[str, Any]]:
    where = f"messages[{index}]"
    if not isinstance(node, dict):
        raise InvalidInputError(f"{where}: not a message", details={"field": where})
    kind = node["id"][-1] if isinstance(node.get("id"), list) and node["id"] else ""
    kwargs = _kwargs(node)
    if kind == "MessagesPlaceholder":
        item = {"type": "placeholder", "name": kwargs.get("variable_name")}
        if kwargs.get("optional"):
            item["optional"] = True
        return None, item
    if kind in ("SystemMessage", "HumanMessage", "AIMessage"):
        content = kwargs.get("content")
        if not isinstance(content, str):
            raise InvalidInputError(f"{where}: content must be text", details={"field": where})
        return None, {"role": _ROLES[kind], "content": to_mustache([content] if content else [])}
    role = _ROLES.get(kind) or (kwargs.get("role") if kind == "ChatMessagePromptTemplate" else None)
    if role is None:
        raise InvalidInputError(
            f"{where}: {kind or 'this message'} is not supported", details={"field": where}
        )
    prompt = kwargs.get("prompt")
    if isinstance(prompt, list):
        raise InvalidInputError(
            f"{where}: multi-part (image) messages are not supported", details={"field": where}
        )
    syntax, content = _text(prompt, where, notes)
    return syntax, {"role": role, "content": content}


def convert(data: Any, where: str, notes: list[str]) -> tuple[str, str | list[dict[str, Any]]]:
    """``(syntax, template)`` of one serialized prompt."""
    if _is(data, "ChatPromptTemplate") or (isinstance(data, dict) and data.get("_type") == "chat"):
        raw = _kwargs(data).get("messages")
        if not isinstance(raw, list) or not raw:
            raise InvalidInputError(f"{where}: no messages", details={"field": where})
        syntaxes: set[str] = set()
        messages = []
        for index, node in enumerate(raw):
            syntax, message = _message(node, index, notes)
            if syntax is not None:
                syntaxes.add(syntax)
            messages.append(message)
        if len(syntaxes) > 1:
            raise InvalidInputError(
                f"{where}: messages mix template formats {sorted(syntaxes)}",
                details={"field": where},
            )
        return (syntaxes.pop() if syntaxes else "mustache"), messages
    if _is(data, "PromptTemplate") or (isinstance(data, dict) and "template" in _kwargs(data)):
        return _text(data, where, notes)
    raise InvalidInputError(
        f"{where}: not a serialized PromptTemplate or ChatPromptTemplate",
        details={"field": where},
    )


def read_langchain(path: Path) -> Source:
    """The serialized prompt at ``path``, or every ``.json`` one under it."""
    source = Source(prompts=[])
    for name, file in files_named(path, ".json"):
        try:
            data = json.loads(read_text(file))
        except ValueError as exc:
            raise InvalidInputError(
                f"{file}: not valid JSON ({exc})", details={"field": "path", "path": str(file)}
            ) from None
        syntax, template = convert(data, name, source.not_carried)
        version = ForeignVersion(version=1, template=template, syntax=syntax)
        source.prompts.append(
            prompt_item(
                name,
                [version],
                tags=[],
                actor="",
                where=name,
                notes=source.not_carried,
                default_production=True,
            )
        )
    return source
