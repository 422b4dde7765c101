"""Mustache source -> a small tree of nodes, with the spec's whitespace rules applied.

Parsing runs in three passes over the source:

1. ``_tokenize`` finds the tags (following set-delimiter changes) and checks that sections
   nest properly, so every close tag knows which open tag it ends;
2. ``_standalone`` finds lines that hold only whitespace and non-output tags and removes those
   lines' whitespace and newline, as the spec requires;
3. ``_build`` turns the token list into nodes, prepending the indentation of a standalone
   partial to each line (the spec indents the partial's *template*, so interpolated values
   with newlines are not re-indented).

Line and column numbers are 1-based and point at the opening delimiter of a tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from promptvault.errors import TemplateLimitError, TemplateSyntaxError

__all__ = [
    "MAX_NESTING",
    "MAX_TAGS",
    "Block",
    "Node",
    "Parent",
    "Partial",
    "Section",
    "Var",
    "parse",
]

# Sections nested deeper than this are refused: nothing a prompt needs, and it bounds the
# recursion of the compiler and the size of the generated code.
MAX_NESTING = 100

_SIGILS = frozenset("#^/!><$&")
_OPENERS = frozenset("#^<$")  # tag kinds that need a matching {{/name}}
_SILENT = frozenset("#^/!=><$")  # kinds that output nothing themselves: may stand alone
_INHERITANCE = frozenset("<$")
_INCLUDES = frozenset("><")
_SPACE = " \t"


@dataclass(slots=True)
class Var:
    """``{{name}}`` / ``{{{name}}}`` / ``{{&name}}``; ``parts`` is empty for ``{{.}}``."""

    name: str
    parts: tuple[str, ...]
    escape: bool
    line: int
    column: int


@dataclass(slots=True)
class Section:
    """``{{#name}}...{{/name}}`` or, when ``inverted``, ``{{^name}}...{{/name}}``."""

    name: str
    parts: tuple[str, ...]
    inverted: bool
    line: int
    column: int
    children: list[Node] = field(default_factory=list)


@dataclass(slots=True)
class Partial:
    """``{{>name}}`` or the dynamic ``{{>*dotted.name}}``; ``indent`` is set when standalone."""

    name: str
    dynamic: bool
    parts: tuple[str, ...]
    indent: str
    line: int
    column: int


@dataclass(slots=True)
class Block:
    """``{{$name}}default{{/name}}``: a parameter of a parent template, or an argument.

    ``indent`` is the indentation of the line on which the block's content begins; the
    override given for a block is re-indented from its own ``indent`` to the site's.
    ``first`` is true when that content begins at the start of a line.
    """

    name: str
    indent: str
    first: bool
    line: int
    column: int
    children: list[Node] = field(default_factory=list)


@dataclass(slots=True)
class Parent:
    """``{{<name}}{{$block}}...{{/block}}{{/name}}``: inherit a template, overriding blocks."""

    name: str
    dynamic: bool
    parts: tuple[str, ...]
    indent: str
    line: int
    column: int
    blocks: list[Block] = field(default_factory=list)


Node = str | Var | Section | Partial | Block | Parent


class _Tag:
    """One tag as found in the source, before the tree is built."""

    __slots__ = ("closes", "column", "first", "indent", "kind", "line", "name", "standalone")

    def __init__(self, kind: str, name: str, line: int, column: int) -> None:
        self.kind = kind  # "" interpolation, "&" raw, or a sigil from _SIGILS / "="
        self.name = name
        self.line = line
        self.column = column
        self.closes = ""  # for "/": the kind of the tag it closes
        self.standalone = False
        # Standalone partial/parent: the whitespace before it. Block: the indentation of
        # the line where its content begins, and whether that is at a line start.
        self.indent = ""
        self.first = False


# A plain name, "." or a dotted name with non-empty parts; anything else gets a precise
# error message from _check_name.
_NAME = re.compile(r"\.|\w[^\s.]*(?:\.[^\s.]+)*")
_SPACE_RE = re.compile(r"\s")


# Default bound on the tags of one template (``Limits.max_tags``).
MAX_TAGS = 10_000


def parse(
    source: str, *, indent: str = "", name: str | None = None, max_tags: int = MAX_TAGS
) -> list[Node]:
    """Parse ``source`` into nodes; ``indent`` prefixes every line (standalone partials).

    More than ``max_tags`` tags is a ``TemplateLimitError``, raised as soon as the tag past
    the limit is found.
    """
    texts, tags = _tokenize(source, name, max_tags)
    _standalone(texts, tags, indent)
    return _build(texts, tags, indent)


def _error(message: str, source: str, name: str | None, line: int, column: int) -> Exception:
    return TemplateSyntaxError(message, line=line, column=column, source=source, name=name)


def _tokenize(source: str, name: str | None, max_tags: int) -> tuple[list[str], list[_Tag]]:
    """Split into ``texts`` and ``tags`` (``texts[i]`` precedes ``tags[i]``; one extra text)."""
    texts: list[str] = []
    tags: list[_Tag] = []
    opened: list[_Tag] = []
    otag, ctag = "{{", "}}"
    olen = 2
    pos = 0
    line = 1
    line_start = 0  # offset of the first character of ``line``
    find = source.find
    add_text = texts.append
    add_tag = tags.append
    fullmatch = _NAME.fullmatch
    while True:
        start = find(otag, pos)
        if start < 0:
            break
        text = source[pos:start]
        add_text(text)
        # Line/column bookkeeping: counting newlines in C is cheap.
        newlines = text.count("\n")
        if newlines:
            line += newlines
            line_start = pos + text.rfind("\n") + 1
        column = start - line_start + 1
        inner = start + olen
        head = source[inner : inner + 1]
        if head == "{":
            close = "}" + ctag
            stop = find(close, inner)
            content = source[inner + 1 : stop].strip()
            kind = "&"
        elif head == "=":
            close = "=" + ctag
            stop = find(close, inner)
            content = source[inner + 1 : stop]
            kind = "="
        else:
            close = ctag
            stop = find(close, inner)
            content = source[inner:stop].strip()
            kind = ""
        if stop < 0 or otag in content:
            raise _error(
                f"unclosed tag: {otag} has no matching {close}", source, name, line, column
            )
        pos = stop + len(close)
        if kind == "=":
            delims = content.split()
            if len(delims) != 2 or "=" in delims[0] or "=" in delims[1]:
                raise _error(
                    f"bad delimiter change {source[start:pos]!r}: give two delimiters "
                    "separated by a space, neither containing '=', like {{=<% %>=}}",
                    source,
                    name,
                    line,
                    column,
                )
            tag = _Tag("=", "", line, column)
            otag, ctag = delims
            olen = len(otag)
        elif kind == "" and content and content[0] not in _SIGILS and fullmatch(content):
            tag = _Tag("", content, line, column)  # the common case: {{name}}
        else:
            tag = _parse_tag(kind, content, line, column, source, name)
        add_tag(tag)
        if len(tags) > max_tags:
            where = f" in partial {name!r}" if name else ""
            raise TemplateLimitError(
                f"template has more than {max_tags} tags{where} (line {line}): split it "
                "into partials or raise max_tags",
                details={"limit": "max_tags", "max": max_tags, "line": line},
            )
        # Newlines inside the tag (multi-line comments) move the line counter too.
        inside = source.count("\n", start, pos)
        if inside:
            line += inside
            line_start = source.rfind("\n", start, pos) + 1
        kind = tag.kind
        if kind in _OPENERS:
            opened.append(tag)
            if len(opened) > MAX_NESTING:
                raise TemplateLimitError(
                    f"sections nested more than {MAX_NESTING} deep at line {line}",
                    details={"limit": "nesting", "max": MAX_NESTING, "line": line},
                )
        elif kind == "/":
            _close(opened, tag, source, name)
    add_text(source[pos:])
    if opened:
        top = opened[-1]
        raise _error(
            f"unclosed section {{{{{top.kind}{top.name}}}}}: add {{{{/{top.name}}}}}",
            source,
            name,
            top.line,
            top.column,
        )
    return texts, tags


def _close(opened: list[_Tag], tag: _Tag, source: str, name: str | None) -> None:
    if not opened:
        raise _error(
            f"close tag {{{{/{tag.name}}}}} has no open section to close",
            source,
            name,
            tag.line,
            tag.column,
        )
    top = opened.pop()
    if top.name != tag.name:
        raise _error(
            f"mismatched close tag: {{{{/{tag.name}}}}} cannot close "
            f"{{{{{top.kind}{top.name}}}}} opened at line {top.line}, column {top.column}",
            source,
            name,
            tag.line,
            tag.column,
        )
    tag.closes = top.kind


def _parse_tag(  # noqa: PLR0917 - internal, called once per unusual tag
    kind: str, content: str, line: int, column: int, source: str, name: str | None
) -> _Tag:
    if kind == "" and content and content[0] in _SIGILS:
        kind = content[0]
        content = content[1:].strip()
    if kind == "!":
        return _Tag("!", "", line, column)
    if not content:
        what = "tag" if kind in ("", "&") else f"{{{{{kind}}}}} tag"
        raise _error(f"empty {what}: a name is needed", source, name, line, column)
    if content[0] == "*" and (kind in _INCLUDES or kind == "/"):
        # Dynamic names: the asterisk and the name may be separated by padding.
        rest = content[1:].strip()
        if not rest or _SPACE_RE.search(rest):
            raise _error(
                f"bad dynamic name {content!r}: write {{{{{kind}*name}}}}",
                source,
                name,
                line,
                column,
            )
        return _Tag(kind, "*" + rest, line, column)
    if _SPACE_RE.search(content):
        raise _error(f"tag name {content!r} contains whitespace", source, name, line, column)
    if kind in _INCLUDES or kind == "/":
        return _Tag(kind, content, line, column)
    if content[0] == "{":
        raise _error("unclosed tag: {{{ needs a matching }}}", source, name, line, column)
    head = content[0]
    if not (head.isalnum() or head in "_."):
        raise _error(
            f"unknown tag type {head!r} in {content!r}: tags are {{{{name}}}}, {{{{#name}}}}, "
            "{{^name}}, {{/name}}, {{>partial}}, {{<parent}}, {{$block}}, {{!comment}}, "
            "{{&name}}, {{{name}}} and {{=<% %>=}}",
            source,
            name,
            line,
            column,
        )
    if not _NAME.fullmatch(content):
        raise _error(
            f"bad dotted name {content!r}: empty part between dots", source, name, line, column
        )
    return _Tag(kind, content, line, column)


def _standalone(texts: list[str], tags: list[_Tag], indent: str) -> None:
    """Remove the whitespace and newline around tags that stand alone on their line.

    A line stands alone when it holds only whitespace and tags that output nothing. Classic
    Mustache allows one such tag per line; the inheritance spec also allows several when one
    of them is a parent or block tag (``{{<parent}}{{$block}}``), except a block opened and
    closed on the same line, whose (overridden) content stays inline.
    """
    count = len(tags)
    i = 0
    while i < count:
        # The group of tags sharing this line: no newline in the text between them. The
        # texts from i + 1 on are untouched so far; texts[i] may have lost its head (the
        # previous line's ending) but never the part after its last newline.
        j = i
        while j + 1 < count and "\n" not in texts[j + 1]:
            j += 1
        if i == j:  # the common case: one tag on the line
            silent = tags[i].kind in _SILENT
            if not silent:
                i += 1
                continue
        else:
            silent = _silent_group(tags, i, j)
            if not silent and not any(tags[k].kind == "$" for k in range(i, j + 1)):
                i = j + 1
                continue
        before = texts[i]
        prefix = before[before.rfind("\n") + 1 :]
        after = texts[j + 1]
        nl = after.find("\n")
        suffix = after if nl < 0 else after[: nl + 1]
        alone = (
            silent
            and not prefix.strip(_SPACE)
            and (nl >= 0 or j + 1 == count)
            and not suffix.rstrip("\r\n").strip(_SPACE)
            and all(not texts[k].strip(_SPACE) for k in range(i + 1, j + 1))
        )
        for k in range(i, j + 1):
            tag = tags[k]
            if tag.kind == "$":
                tag.first = alone
                tag.indent = indent + _leading(after[nl + 1 :] if alone else prefix)
            elif alone and tag.kind in _INCLUDES:
                tag.indent = indent + prefix
        if alone:
            for k in range(i, j + 1):
                tags[k].standalone = True
                texts[k] = texts[k][: len(texts[k]) - len(prefix)] if k == i else ""
            texts[j + 1] = after[len(suffix) :]
        i = j + 1


def _silent_group(tags: list[_Tag], i: int, j: int) -> bool:
    if any(tags[k].kind not in _SILENT for k in range(i, j + 1)):
        return False
    if i == j:
        return True
    kinds = [tags[k].closes if tags[k].kind == "/" else tags[k].kind for k in range(i, j + 1)]
    if not _INHERITANCE.intersection(kinds):
        return False
    if sum(1 for k in range(i, j + 1) if tags[k].kind in _INCLUDES) > 1:
        return False
    # A block opened and closed on one line keeps its line (see the docstring).
    open_blocks: set[str] = set()
    for k in range(i, j + 1):
        tag = tags[k]
        if tag.kind == "$":
            open_blocks.add(tag.name)
        elif tag.kind == "/" and tag.closes == "$" and tag.name in open_blocks:
            return False
    return True


def _leading(text: str) -> str:
    return text[: len(text) - len(text.lstrip(_SPACE))]


def _indent_text(text: str, indent: str, bol: bool) -> str:
    """Prefix ``indent`` to every non-empty line of ``text`` that starts a source line."""
    lines = text.split("\n")
    out = [indent + lines[0] if bol and lines[0] not in ("", "\r") else lines[0]]
    out.extend(indent + piece if piece not in ("", "\r") else piece for piece in lines[1:])
    return "\n".join(out)


def _split_name(name: str) -> tuple[str, ...]:
    if "." not in name:
        return (name,)
    return () if name == "." else tuple(name.split("."))


def _build(texts: list[str], tags: list[_Tag], indent: str) -> list[Node]:
    root: list[Node] = []
    body = root
    # (body to return to, the open node; None marks a block argument of a parent)
    stack: list[tuple[list[Node], Section | Block | Parent | None]] = []
    # Inside a parent tag only block arguments count; other content is parsed and ignored.
    in_parent: Parent | None = None
    bol = True
    for k, tag in enumerate(tags):
        text = texts[k]
        if text:
            if indent:
                text = _indent_text(text, indent, bol)
                bol = text.endswith("\n")
            if in_parent is None:
                body.append(text)
        if indent and bol and not tag.standalone:
            if in_parent is None:
                body.append(indent)
            bol = False
        kind = tag.kind
        if kind in {"", "&"}:
            if in_parent is None:
                body.append(Var(tag.name, _split_name(tag.name), kind == "", tag.line, tag.column))
        elif kind in {"#", "^"}:
            section = Section(tag.name, _split_name(tag.name), kind == "^", tag.line, tag.column)
            stack.append((body, section))
            if in_parent is None:
                body.append(section)
            body = section.children
        elif kind == "$":
            block = Block(tag.name, tag.indent, tag.first, tag.line, tag.column)
            if in_parent is not None and stack[-1][1] is in_parent:
                in_parent.blocks.append(block)
                stack.append((body, None))  # leaving the block returns into the parent
                in_parent = None
            else:
                stack.append((body, block))
                if in_parent is None:
                    body.append(block)
            body = block.children
        elif kind == "<":
            dynamic = tag.name.startswith("*")
            parent = Parent(
                tag.name,
                dynamic,
                _split_name(tag.name[1:]) if dynamic else (),
                tag.indent,
                tag.line,
                tag.column,
            )
            stack.append((body, parent))
            if in_parent is None:
                body.append(parent)
                in_parent = parent
        elif kind == ">":
            if in_parent is None:
                dynamic = tag.name.startswith("*")
                body.append(
                    Partial(
                        tag.name,
                        dynamic,
                        _split_name(tag.name[1:]) if dynamic else (),
                        tag.indent,
                        tag.line,
                        tag.column,
                    )
                )
        elif kind == "/":
            body, closed = stack.pop()
            if closed is None:  # end of a block argument: back inside its parent tag
                enclosing = stack[-1][1]
                assert isinstance(enclosing, Parent)
                in_parent = enclosing
            elif closed is in_parent:
                in_parent = None
        # "!" and "=" produce nothing
    text = texts[-1]
    if text and in_parent is None:
        body.append(_indent_text(text, indent, bol) if indent else text)
    return root
