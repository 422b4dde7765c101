"""Prompt files: one prompt per YAML, JSON or ``.prompty`` file. Pure: no database.

A YAML file::

    description: Answers customer questions
    syntax: mustache
    tags: [support]
    config: {model: gpt-4, temperature: 0.7, max_tokens: 500}
    variables:
      company_name: {type: string, description: Shown to the customer}
    template: |
      You are a helpful customer support agent for {{company_name}}.

The name defaults to the path under the nearest ``prompts/`` folder, without the extension.
Parsing keeps where every value sits in the file, so that a problem found later (a template
syntax error at line 2, column 9 of the template) is reported at the file's own line and
column, with a caret under the spot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from promptvault.errors import caret_excerpt

if TYPE_CHECKING:
    from promptvault.entities import PromptType, Syntax

__all__ = [
    "EXTENSIONS",
    "KNOWN_KEYS",
    "PromptFile",
    "Problem",
    "Span",
    "default_name",
    "discover",
    "dump_prompt",
    "parse_file",
    "parse_text",
]

EXTENSIONS = (".yaml", ".yml", ".json", ".prompty")
KNOWN_KEYS = (
    "name",
    "description",
    "type",
    "syntax",
    "tags",
    "config",
    "variables",
    "template",
    "messages",
    "examples",
)
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a file, located as precisely as the format allows."""

    file: str
    message: str
    line: int | None = None
    column: int | None = None
    field: str | None = None
    excerpt: str | None = None
    severity: Literal["error", "warning"] = "error"

    def format(self) -> str:
        """``file:line:col: error: message`` followed by the caret excerpt, if any."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.severity}: {self.message}"
        if self.excerpt:
            text += "\n" + "\n".join(f"    {line}" for line in self.excerpt.splitlines())
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON form (for ``--json``)."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "severity": self.severity,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Span:
    """Where a string value sits in the file, to map positions inside it back to the file.

    ``kind`` is the YAML scalar style (``block`` for ``|``/``>``, ``plain``, ``single``,
    ``double``) or ``raw`` for a ``.prompty`` body, which is copied verbatim. ``line`` and
    ``column`` are 0-based; ``raw`` is the file text of the scalar for the quoted styles.
    """

    kind: Literal["block", "plain", "single", "double", "raw"]
    line: int
    column: int
    indent: int = 0
    raw: str = ""

    def locate(self, tline: int, tcol: int) -> tuple[int, int]:
        """File (line, column), 1-based, of template position (``tline``, ``tcol``)."""
        if self.kind == "block":
            return self.line + tline + 1, self.indent + tcol
        if self.kind == "raw":
            return self.line + tline, (self.column if tline == 1 else 0) + tcol
        return _walk_flow(self, tline, tcol)


def _walk_flow(span: Span, tline: int, tcol: int) -> tuple[int, int]:
    """Walk a plain or quoted scalar's raw text, decoding escapes, to a template position."""
    text = span.raw
    fl, fc = span.line, span.column
    tl, tc = 1, 1
    i = 0
    if span.kind in ("single", "double") and text[:1] in "'\"":
        i, fc = 1, fc + 1
    while i < len(text) and (tl, tc) < (tline, tcol):
        ch = text[i]
        if span.kind == "double" and ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "\n":  # escaped line break: joins lines, adds nothing
                i += 2
                fl, fc = fl + 1, 0
                while i < len(text) and text[i] in " \t":
                    i, fc = i + 1, fc + 1
                continue
            width = {"x": 4, "u": 6, "U": 10}.get(nxt, 2)
            i, fc = i + width, fc + width
            tl, tc = (tl + 1, 1) if nxt == "n" else (tl, tc + 1)
        elif span.kind == "single" and text.startswith("''", i):
            i, fc, tc = i + 2, fc + 2, tc + 1
        elif ch == "\n":  # line folding: a break is a space, an empty line a newline
            i, fl, fc = i + 1, fl + 1, 0
            blank = False
            while i < len(text) and text[i] in " \t\n":
                if text[i] == "\n":
                    blank, fl, fc = True, fl + 1, 0
                    tl, tc = tl + 1, 1
                else:
                    fc += 1
                i += 1
            if not blank:
                tc += 1
        elif span.kind != "plain" and ch == text[0]:
            break
        else:
            i, fc, tc = i + 1, fc + 1, tc + 1
    return fl + 1, fc + 1


@dataclass(frozen=True)
class PromptFile:
    """A parsed, shape-checked prompt file, ready to push (templates not yet compiled)."""

    path: Path
    name: str
    type: PromptType
    syntax: Syntax
    template: str | list[dict[str, Any]]
    config: dict[str, Any] = field(default_factory=dict)
    variables_schema: dict[str, Any] | None = None
    tags: tuple[str, ...] = ()
    description: str = ""
    examples: Any = None
    format: Literal["yaml", "json", "prompty"] = "yaml"
    spans: dict[str, Span] = field(default_factory=dict, repr=False, compare=False)
    positions: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)
    text: str = field(default="", repr=False, compare=False)

    def push_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``vault.push`` (besides message, author and labels)."""
        return {
            "template": self.template,
            "syntax": self.syntax,
            "type": self.type,
            "config": self.config,
            "variables_schema": self.variables_schema,
            "tags": list(self.tags),
            "description": self.description,
        }

    def content(self) -> dict[str, Any]:
        """What defines a version (compared with the registry by push, pull and diff)."""
        return {
            "type": self.type,
            "syntax": self.syntax,
            "template": self.template,
            "config": self.config,
            "variables_schema": self.variables_schema,
        }

    def problem(
        self, message: str, field_: str | None = None, *, severity: str = "error"
    ) -> Problem:
        """A problem located at ``field_`` (a dotted path such as ``config.temperature``)."""
        line, column = self.positions.get(field_ or "", (None, None))
        excerpt = caret_excerpt(self.text, line, column) if line and column else None
        return Problem(
            str(self.path),
            message,
            line,
            column,
            field_,
            excerpt,
            "warning" if severity == "warning" else "error",
        )

    def problem_in(
        self, field_: str, tline: int, tcol: int, message: str, *, severity: str = "error"
    ) -> Problem:
        """A problem at a position inside the template string stored at ``field_``."""
        span = self.spans.get(field_)
        if span is None:
            return self.problem(message, field_, severity=severity)
        line, column = span.locate(tline, tcol)
        excerpt = caret_excerpt(self.text, line, column)
        level: Literal["error", "warning"] = "warning" if severity == "warning" else "error"
        return Problem(str(self.path), message, line, column, field_, excerpt, level)


def discover(paths: list[Path]) -> tuple[list[Path], list[Problem]]:
    """Prompt files under ``paths`` (files as given, folders recursively, sorted)."""
    found: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix in EXTENSIONS
                    and p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            problems.append(Problem(str(path), "no such file or folder"))
    unique = list(dict.fromkeys(found))
    return unique, problems


def default_name(path: Path, root: Path | None = None) -> str:
    """The path under the nearest ``prompts/`` folder (else under ``root``), no extension."""
    resolved = path.resolve()
    stem = resolved.with_suffix("")
    for parent in resolved.parents:
        if parent.name == "prompts":
            return stem.relative_to(parent).as_posix()
    if root is not None:
        base = root.resolve()
        if resolved.is_relative_to(base):
            return stem.relative_to(base).as_posix()
    return stem.name


def parse_file(path: Path, *, root: Path | None = None) -> tuple[PromptFile | None, list[Problem]]:
    """Read and shape-check one file; all problems found are returned, not just the first."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(str(path), f"not UTF-8 text: {exc.reason}")]
    except OSError as exc:
        return None, [Problem(str(path), exc.strerror or str(exc))]
    return parse_text(text, path=path, root=root)


def parse_text(
    text: str, *, path: Path, root: Path | None = None
) -> tuple[PromptFile | None, list[Problem]]:
    """Parse ``text`` as the prompt file at ``path`` (its suffix picks the format)."""
    from promptvault.cli import _fileshape

    return _fileshape.parse(text, path=path, root=root)


# The writer lives here too so that ``pull`` and ``parse`` agree on the format.


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as ``|`` block scalars; everything else as PyYAML does."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)


def dump_prompt(
    content: dict[str, Any],
    *,
    fmt: Literal["yaml", "json"] = "yaml",
    name: str | None = None,
    description: str = "",
    tags: tuple[str, ...] | list[str] = (),
) -> str:
    """The file text for a version's ``content`` (see :meth:`PromptFile.content`).

    ``name`` is written only when given (when it differs from the file's path).
    """
    doc: dict[str, Any] = {}
    if name:
        doc["name"] = name
    if description:
        doc["description"] = description
    doc["type"] = content["type"]
    doc["syntax"] = content["syntax"]
    if tags:
        doc["tags"] = list(tags)
    if content.get("config"):
        doc["config"] = content["config"]
    if content.get("variables_schema") is not None:
        doc["variables"] = content["variables_schema"]
    key = "messages" if content["type"] == "chat" else "template"
    doc[key] = content["template"]
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    dumped: str = yaml.dump(
        doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, indent=2
    )
    return dumped
