"""promptvault prompts as LangChain prompt templates (extra ``langchain``).

::

    from promptvault.integrations.langchain import to_langchain

    template = to_langchain(vault.get("support/reply"))      # or pv.get(...) in the SDK
    chain = template | model
    chain.invoke({"customer": "Ada", "history": [...]})

A text version becomes a ``PromptTemplate``, a chat version a ``ChatPromptTemplate`` whose
placeholders are ``MessagesPlaceholder`` (optional ones optional), and both render the same
text promptvault renders for string values:

- Mustache stays Mustache, with every ``{{name}}`` written ``{{&name}}``: LangChain's
  Mustache escapes HTML by default, promptvault's does not. Set-delimiter tags and partials
  (``{{> other}}``) have no LangChain equivalent and are refused.
- The ``langfuse`` syntax becomes an f-string template (literal braces doubled).
- Jinja stays Jinja (``jinja2``; LangChain renders it in its own sandbox).

A ``BuiltRequest`` (``vault.build(...)``) is already rendered: it becomes a
``ChatPromptTemplate`` of fixed messages, with nothing left to fill in.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from promptvault._extras import with_install_hint
from promptvault.builder.builder import BuiltRequest
from promptvault.entities import PromptVersion
from promptvault.errors import InvalidInputError
from promptvault.templating.langfuse import split_langfuse

__all__ = ["to_langchain"]

# An escaped variable tag with the default delimiters: not a section, comment, partial,
# inheritance, set-delimiter or already-unescaped tag.
_ESCAPED = re.compile(r"(?<!\{)\{\{(?![{#^/!>&<$=])(\s*[^{}]+?\s*)\}\}")
_ROLES = {"system": "system", "user": "human", "assistant": "ai", "tool": "tool"}


def _mustache(source: str, where: str) -> str:
    if "{{=" in source or re.search(r"\{\{\s*[><]", source):
        raise InvalidInputError(
            f"{where}: set-delimiter tags and partials have no LangChain equivalent",
            details={"field": where},
        )
    return _ESCAPED.sub(lambda m: "{{&" + m.group(1).strip() + "}}", source)


def _fstring(source: str) -> str:
    out = []
    for piece in split_langfuse(source):
        if isinstance(piece, str):
            out.append(piece.replace("{", "{{").replace("}", "}}"))
        else:
            out.append("{" + piece[0] + "}")
    return "".join(out)


Format = Literal["f-string", "mustache", "jinja2"]


def _template(source: str, syntax: str, where: str) -> tuple[str, Format]:
    """``(template, template_format)`` for LangChain."""
    if syntax == "jinja":
        return source, "jinja2"
    if syntax == "langfuse":
        return _fstring(source), "f-string"
    return _mustache(source, where), "mustache"


def _from_version(version: PromptVersion) -> Any:
    from langchain_core.prompts import (
        ChatPromptTemplate,
        MessagesPlaceholder,
        PromptTemplate,
    )
    from langchain_core.prompts.chat import ChatMessagePromptTemplate

    if isinstance(version.template, str):
        text, fmt = _template(version.template, version.syntax, "template")
        return PromptTemplate.from_template(text, template_format=fmt)
    messages: list[Any] = []
    formats: set[Format] = set()
    for index, item in enumerate(version.template):
        if item.get("type") == "placeholder":
            messages.append(
                MessagesPlaceholder(str(item["name"]), optional=bool(item.get("optional")))
            )
            continue
        text, fmt = _template(str(item["content"]), version.syntax, f"template[{index}].content")
        formats.add(fmt)
        role = str(item["role"])
        if role in _ROLES:
            messages.append((_ROLES[role], text))
        else:
            messages.append(ChatMessagePromptTemplate.from_template(text, role=role))
    chat_format: Format = formats.pop() if formats else "f-string"
    return ChatPromptTemplate.from_messages(messages, template_format=chat_format)


def _from_built(built: BuiltRequest) -> Any:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
    from langchain_core.prompts import ChatPromptTemplate

    kinds: dict[str, Any] = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    messages: list[Any] = []
    for m in built.messages:
        role, content = m.get("role"), m.get("content")
        if role == "tool":
            messages.append(ToolMessage(content, tool_call_id=str(m.get("tool_call_id", ""))))
        else:
            messages.append(kinds.get(str(role), HumanMessage)(content))
    return ChatPromptTemplate.from_messages(messages)


def to_langchain(source: PromptVersion | BuiltRequest) -> Any:
    """A ``langchain_core`` prompt template rendering what promptvault renders."""
    try:
        import langchain_core  # noqa: F401 - only to say which extra is missing
    except ModuleNotFoundError as exc:
        raise with_install_hint(exc) from None
    if isinstance(source, BuiltRequest):
        return _from_built(source)
    if isinstance(source, PromptVersion):
        return _from_version(source)
    raise InvalidInputError(
        f"to_langchain takes a PromptVersion or a BuiltRequest, not {type(source).__name__}",
        details={"field": "source"},
    )
