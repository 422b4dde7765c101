"""The ``langfuse`` syntax: ``{{var}}`` replaced as Langfuse's ``compile()`` replaces it.

Prompts written for Langfuse (through its API or imported from it) keep Langfuse's meaning,
which is plain text replacement, not Mustache:

- ``{{`` opens a variable and the first ``}}`` after it closes it; the name is the text
  between, stripped of surrounding whitespace (any characters, ``{{ user name }}`` too).
- A name found in the data renders ``str(value)`` (``None`` renders empty); nothing is
  escaped, and dicts or lists render as Python prints them, as in Langfuse.
- A name not in the data stays in the output exactly as written, braces included, in both
  strict and lenient renders: that is what the prompt meant where it was written.
- There are no sections, partials, comments or delimiters: ``{{#x}}`` is a variable named
  ``#x``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptvault.errors import TemplateLimitError
from promptvault.templating.base import DEFAULT_LIMITS, Limits, Template

__all__ = ["LangfuseTemplate", "split_langfuse"]

_OPEN = "{{"
_CLOSE = "}}"

# One piece of a compiled template: literal text, or (name, the tag as written).
Piece = str | tuple[str, str]


def split_langfuse(source: str) -> list[Piece]:
    """The literal runs and variables of ``source``, in order."""
    pieces: list[Piece] = []
    at = 0
    while at < len(source):
        start = source.find(_OPEN, at)
        end = source.find(_CLOSE, start) if start != -1 else -1
        if start == -1 or end == -1:
            pieces.append(source[at:])
            break
        if start > at:
            pieces.append(source[at:start])
        stop = end + len(_CLOSE)
        pieces.append((source[start + len(_OPEN) : end].strip(), source[start:stop]))
        at = stop
    return pieces


class LangfuseTemplate(Template):
    """A template with Langfuse's ``{{var}}`` replacement; see the module docstring."""

    syntax = "langfuse"

    def __init__(self, source: str, *, limits: Limits | None = None) -> None:
        self.source = source
        self.limits = limits or DEFAULT_LIMITS
        self._pieces = tuple(split_langfuse(source))
        names = [p[0] for p in self._pieces if isinstance(p, tuple)]
        if len(names) > self.limits.max_tags:
            raise TemplateLimitError(
                f"template has {len(names)} variables, over the {self.limits.max_tags} limit",
                details={"limit": "max_tags", "value": len(names), "max": self.limits.max_tags},
            )
        self._variables = frozenset(names)

    @property
    def variables(self) -> frozenset[str]:
        return self._variables

    def render(self, data: Mapping[str, Any], *, strict: bool = True) -> str:
        """Replace every variable the data names; the others stay as written."""
        out: list[str] = []
        append = out.append
        for piece in self._pieces:
            if isinstance(piece, str):
                append(piece)
                continue
            name, written = piece
            if name in data:
                value = data[name]
                append(value if value.__class__ is str else "" if value is None else str(value))
            else:
                append(written)
        text = "".join(out)
        if len(text) * 4 <= self.limits.max_output_bytes:  # UTF-8 is at most 4 bytes a char
            return text
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self.limits.max_output_bytes:
            raise TemplateLimitError(
                f"rendered output is {size} bytes, over the "
                f"{self.limits.max_output_bytes}-byte limit",
                details={
                    "limit": "max_output_bytes",
                    "value": size,
                    "max": self.limits.max_output_bytes,
                },
            )
        return text

    def schema(self) -> dict[str, Any]:
        """Every variable, none required (a missing one stays as written)."""
        return {"type": "object", "properties": {name: {} for name in sorted(self._variables)}}
