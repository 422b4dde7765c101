"""Split template source into tokens the pages colour: text, variables, sections, partials.

The output is a list of ``(kind, text)`` pairs; the Jinja page template wraps each in a
``<span class="tok-KIND">`` with autoescaping on, so template text is always shown, never
interpreted as HTML. This is a lexer for display only: it never fails, whatever the input
(an unclosed tag is shown as text).
"""

from __future__ import annotations

import re

__all__ = ["Token", "highlight"]

Token = tuple[str, str]

_MUSTACHE_KIND = {
    "!": "comment",
    "#": "section",
    "^": "section",
    "/": "section",
    "$": "section",
    "<": "partial",
    ">": "partial",
    "=": "delim",
}
_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_JINJA_PARTIAL = re.compile(r"^\{%-?\s*(include|import|extends|from)\b")


def highlight(source: str, syntax: str = "mustache") -> list[Token]:
    """Tokens of ``source`` for display (``syntax`` is ``mustache`` or ``jinja``)."""
    if syntax == "jinja":
        return _jinja(source)
    return _mustache(source)


def _push(out: list[Token], kind: str, text: str) -> None:
    if not text:
        return
    if out and out[-1][0] == kind == "text":
        out[-1] = ("text", out[-1][1] + text)
    else:
        out.append((kind, text))


def _mustache(source: str) -> list[Token]:
    out: list[Token] = []
    open_, close = "{{", "}}"
    pos = 0
    while pos < len(source):
        start = source.find(open_, pos)
        if start < 0:
            break
        _push(out, "text", source[pos:start])
        inner_start = start + len(open_)
        # Triple mustache {{{x}}} ends with "}}}" (only with the default delimiters).
        end_marker = "}" + close if open_ == "{{" and source.startswith("{", inner_start) else close
        end = source.find(end_marker, inner_start)
        if end < 0:
            _push(out, "text", source[start:])
            return out
        stop = end + len(end_marker)
        inner = source[inner_start:end].strip()
        sigil = inner[:1]
        kind = _MUSTACHE_KIND.get(sigil, "var")
        _push(out, kind, source[start:stop])
        if sigil == "=" and inner.endswith("="):
            parts = inner[1:-1].split()
            if len(parts) == 2:
                open_, close = parts
        pos = stop
    _push(out, "text", source[pos:])
    return out


def _jinja(source: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    for match in _JINJA_TAG.finditer(source):
        _push(out, "text", source[pos : match.start()])
        tag = match.group(0)
        if tag.startswith("{#"):
            kind = "comment"
        elif tag.startswith("{{"):
            kind = "var"
        elif _JINJA_PARTIAL.match(tag):
            kind = "partial"
        else:
            kind = "section"
        _push(out, kind, tag)
        pos = match.end()
    _push(out, "text", source[pos:])
    return out
