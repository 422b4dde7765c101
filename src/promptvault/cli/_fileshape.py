"""Parse a prompt file and check its shape, remembering where each value sits.

YAML and JSON files are composed into a PyYAML node tree (which carries line and column
marks) and then read field by field; ``.prompty`` files are YAML front matter plus a template
body, mapped onto the same fields. Every shape problem is collected, not just the first.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from promptvault.cli.files import (
    KNOWN_KEYS,
    Problem,
    PromptFile,
    Span,
    _Loader,
    default_name,
)
from promptvault.errors import PromptVaultError, caret_excerpt
from promptvault.registry.refs import is_valid_name
from promptvault.templating.chat import ROLES
from promptvault.templating.variables import normalise_variables

__all__ = ["parse"]

# The chat roles the registry accepts, in the order problem messages list them.
_ROLES = tuple(sorted(ROLES))

_PROMPTY_ROLE = re.compile(r"^\s*#?\s*(system|user|assistant|tool|function)\s*:\s*$", re.I)


class _Doc:
    """The node tree of one document, and the problems found while reading it."""

    def __init__(self, path: Path, text: str, line_offset: int = 0) -> None:
        self.path = path
        self.text = text
        self.line_offset = line_offset
        self.problems: list[Problem] = []
        self.positions: dict[str, tuple[int, int]] = {}
        self.spans: dict[str, Span] = {}
        self.composed = text  # the text the node marks index into

    def where(self, node: yaml.Node | None) -> tuple[int | None, int | None]:
        if node is None:
            return None, None
        return node.start_mark.line + 1 + self.line_offset, node.start_mark.column + 1

    def add(self, message: str, node: yaml.Node | None, field: str | None = None) -> None:
        line, column = self.where(node)
        excerpt = caret_excerpt(self.text, line, column) if line and column else None
        self.problems.append(Problem(str(self.path), message, line, column, field, excerpt))

    def note(self, field: str, node: yaml.Node) -> None:
        line, column = self.where(node)
        if line is not None and column is not None:
            self.positions[field] = (line, column)
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":str"):
            self.spans[field] = self._span(node)

    def _span(self, node: yaml.ScalarNode) -> Span:
        line = node.start_mark.line + self.line_offset
        col = node.start_mark.column
        style = node.style
        if style in ("|", ">"):
            lines = self.text.splitlines()
            indent = 0
            for candidate in lines[line + 1 :]:
                if candidate.strip():
                    indent = len(candidate) - len(candidate.lstrip(" "))
                    break
            return Span("block", line, col, indent)
        # Marks index the composed text; for prompty front matter that is a slice of the file.
        raw = self.composed[node.start_mark.index : node.end_mark.index]
        kind = {"'": "single", '"': "double"}.get(style or "", "plain")
        return Span(kind, line, col, 0, raw)  # type: ignore[arg-type]


def _syntax(path: Path | str) -> str:
    # JSON files are read by the YAML parser (JSON is YAML); the message names what was written.
    return "JSON" if str(path).lower().endswith(".json") else "YAML"


def _compose(doc: _Doc, text: str) -> yaml.Node | None:
    doc.composed = text
    try:
        node = yaml.compose(text, Loader=_Loader)
        alias = _first_alias(node)
        if alias is not None:
            raise yaml.MarkedYAMLError(
                problem="aliases (*name) are not supported in prompt files: repeat the value",
                problem_mark=alias.start_mark,
            )
        return node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "invalid YAML"
        if mark is None:
            doc.problems.append(Problem(str(doc.path), f"invalid {_syntax(doc.path)}: {reason}"))
        else:
            line, column = mark.line + 1 + doc.line_offset, mark.column + 1
            doc.problems.append(
                Problem(
                    str(doc.path),
                    f"invalid {_syntax(doc.path)}: {reason}",
                    line,
                    column,
                    None,
                    caret_excerpt(doc.text, line, column),
                )
            )
    except yaml.YAMLError as exc:
        doc.problems.append(Problem(str(doc.path), f"invalid {_syntax(doc.path)}: {exc}"))
    return None


def _first_alias(root: yaml.Node | None) -> yaml.Node | None:
    """The first node met twice (an alias of an anchored node), walking without recursion."""
    seen: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            return node
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                stack += [value, key]
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
    return None


def _value(node: yaml.Node) -> Any:
    loader = _Loader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _mapping(doc: _Doc, node: yaml.Node, field: str) -> dict[str, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        doc.add(f"{field or 'the file'} must be a mapping", node, field or None)
        return None
    out: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = _value(key_node)
        path = f"{field}.{key}" if field else str(key)
        if not isinstance(key, str):
            doc.add(f"keys must be strings, got {key!r}", key_node, field or None)
            continue
        if key in out:
            doc.add(f"duplicate key {key!r}", key_node, path)
            continue
        out[key] = value_node
        doc.note(path, value_node)
    return out


def _string(doc: _Doc, node: yaml.Node | None, field: str) -> str | None:
    if node is None:
        return None
    value = _value(node)
    if not isinstance(value, str):
        doc.add(f"{field} must be a string, got {_kind(value)}", node, field)
        return None
    return value


def _kind(value: Any) -> str:
    return {
        type(None): "nothing",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _jsonable(doc: _Doc, node: yaml.Node, field: str) -> Any:
    value = _value(node)
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        doc.add(f"{field} must be JSON data (a date or special value is not)", node, field)
        return None


def parse(
    text: str, *, path: Path, root: Path | None = None
) -> tuple[PromptFile | None, list[Problem]]:
    """Parse ``text`` as the file ``path``; see :func:`promptvault.cli.files.parse_text`.

    Whatever the text, the answer is problems, never an exception: YAML that composes but
    cannot be constructed (an unhashable key), nesting deeper than the parsers can follow,
    and aliases (``*name``), which could expand a small file into a huge value, are reported.
    """
    try:
        return _parse(text, path=path, root=root)
    except RecursionError:
        return None, [Problem(str(path), "the file nests too deeply to read")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        reason = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
        if mark is None:
            return None, [Problem(str(path), f"invalid {_syntax(path)}: {reason}")]
        line, column = mark.line + 1, mark.column + 1
        excerpt = caret_excerpt(text, line, column)
        problem = f"invalid {_syntax(path)}: {reason}"
        return None, [Problem(str(path), problem, line, column, None, excerpt)]


def _parse(
    text: str, *, path: Path, root: Path | None = None
) -> tuple[PromptFile | None, list[Problem]]:
    if path.suffix == ".prompty":
        return _parse_prompty(text, path=path, root=root)
    doc = _Doc(path, text)
    if path.suffix == ".json":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            doc.problems.append(
                Problem(
                    str(path),
                    f"invalid JSON: {exc.msg}",
                    exc.lineno,
                    exc.colno,
                    None,
                    caret_excerpt(text, exc.lineno, exc.colno),
                )
            )
            return None, doc.problems
    node = _compose(doc, text)
    if node is None:
        if not doc.problems:
            doc.problems.append(Problem(str(path), "the file is empty", 1, 1))
        return None, doc.problems
    fields = _mapping(doc, node, "")
    if fields is None:
        return None, doc.problems
    for key, value_node in fields.items():
        if key not in KNOWN_KEYS:
            doc.add(f"unknown key {key!r} (known: {', '.join(KNOWN_KEYS)})", value_node, key)
    fmt = "json" if path.suffix == ".json" else "yaml"
    return _build(doc, fields, path=path, root=root, fmt=fmt, default_syntax="mustache")


def _build(
    doc: _Doc,
    fields: dict[str, yaml.Node],
    *,
    path: Path,
    root: Path | None,
    fmt: str,
    default_syntax: str,
    body: str | list[dict[str, Any]] | None = None,
) -> tuple[PromptFile | None, list[Problem]]:
    name = _string(doc, fields.get("name"), "name") or default_name(path, root)
    if not is_valid_name(name):
        doc.add(
            f"invalid prompt name {name!r}: use letters, digits and . _ / -, "
            "with no empty, '.' or '..' folder parts",
            fields.get("name"),
            "name",
        )
    syntax = _string(doc, fields.get("syntax"), "syntax") or default_syntax
    if syntax not in ("mustache", "jinja", "langfuse"):
        doc.add(
            f"syntax must be mustache, jinja or langfuse, not {syntax!r}",
            fields.get("syntax"),
            "syntax",
        )
    template: Any = body
    if "template" in fields and "messages" in fields:
        doc.add("give either template or messages, not both", fields["messages"], "messages")
    if "template" in fields:
        template = _string(doc, fields["template"], "template")
    elif "messages" in fields:
        template = _messages(doc, fields["messages"])
    elif body is None:
        doc.add("missing template (or messages for a chat prompt)", None, "template")
    inferred = "chat" if isinstance(template, list) else "text"
    kind = _string(doc, fields.get("type"), "type") or inferred
    if kind not in ("text", "chat"):
        doc.add(f"type must be text or chat, not {kind!r}", fields.get("type"), "type")
    elif kind != inferred and template is not None:
        need = "messages" if kind == "chat" else "template"
        doc.add(f"a {kind} prompt needs {need}", fields.get("type"), "type")
    config = _config(doc, fields.get("config"))
    schema = _variables(doc, fields.get("variables"))
    tags = _tags(doc, fields.get("tags"))
    description = _string(doc, fields.get("description"), "description") or ""
    examples = _value(fields["examples"]) if "examples" in fields else None
    if template is None or (
        isinstance(template, list)
        and any(m.get("content") is None and m.get("type") != "placeholder" for m in template)
    ):
        return None, doc.problems
    # With shape problems the file is still returned, so that its templates get checked
    # too and every problem is listed at once; callers push nothing when problems exist.
    return (
        PromptFile(
            path=path,
            name=name,
            type=kind,  # type: ignore[arg-type]
            syntax=syntax,  # type: ignore[arg-type]
            template=template,
            config=config,
            variables_schema=schema,
            tags=tags,
            description=description,
            examples=examples,
            format=fmt,  # type: ignore[arg-type]
            spans=doc.spans,
            positions=doc.positions,
            text=doc.text,
        ),
        doc.problems,
    )


def _messages(doc: _Doc, node: yaml.Node) -> list[dict[str, Any]] | None:
    if not isinstance(node, yaml.SequenceNode):
        doc.add("messages must be a list of {role, content} items", node, "messages")
        return None
    out: list[dict[str, Any]] = []
    for index, item_node in enumerate(node.value):
        where = f"messages[{index}]"
        doc.note(where, item_node)
        item = _mapping(doc, item_node, where)
        if item is None:
            continue
        if _value(item["type"]) == "placeholder" if "type" in item else False:
            name = _string(doc, item.get("name"), f"{where}.name")
            if not name:
                doc.add(f"{where}: a placeholder needs a name", item_node, where)
                continue
            entry: dict[str, Any] = {"type": "placeholder", "name": name}
            if "optional" in item:
                entry["optional"] = _value(item["optional"])
            out.append(entry)
            continue
        role = _string(doc, item.get("role"), f"{where}.role")
        if role is None and "role" not in item:
            doc.add(f"{where} needs a role ({', '.join(_ROLES)})", item_node, where)
        elif role is not None and role not in _ROLES:
            doc.add(
                f"{where}.role must be one of {', '.join(_ROLES)}, not {role!r}",
                item["role"],
                f"{where}.role",
            )
        content = _string(doc, item.get("content"), f"{where}.content")
        if "content" not in item:
            doc.add(f"{where} needs content", item_node, where)
        message: dict[str, Any] = {"role": role, "content": content}
        for key, value_node in item.items():
            if key not in ("role", "content", "type"):
                message[key] = _jsonable(doc, value_node, f"{where}.{key}")
        out.append(message)
    return out


def _config(doc: _Doc, node: yaml.Node | None) -> dict[str, Any]:
    if node is None:
        return {}
    fields = _mapping(doc, node, "config")
    if fields is None:
        return {}
    config: dict[str, Any] = {}
    for key, value_node in fields.items():
        value = _jsonable(doc, value_node, f"config.{key}")
        if key == "extra":
            if isinstance(value, dict):
                config.update(value)
            else:
                doc.add("config.extra must be a mapping", value_node, "config.extra")
            continue
        config[key] = value
    temp = config.get("temperature")
    if temp is not None and (
        isinstance(temp, bool) or not isinstance(temp, (int, float)) or not 0 <= temp <= 2
    ):
        doc.add(
            f"config.temperature must be a number from 0 to 2, got {temp!r}",
            fields.get("temperature"),
            "config.temperature",
        )
    tokens = config.get("max_tokens")
    if tokens is not None and (
        isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1
    ):
        doc.add(
            f"config.max_tokens must be an integer >= 1, got {tokens!r}",
            fields.get("max_tokens"),
            "config.max_tokens",
        )
    model = config.get("model")
    if model is not None and not isinstance(model, str):
        doc.add("config.model must be a string", fields.get("model"), "config.model")
    return config


def _tags(doc: _Doc, node: yaml.Node | None) -> tuple[str, ...]:
    if node is None:
        return ()
    value = _value(node)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        doc.add("tags must be a list of strings", node, "tags")
        return ()
    return tuple(dict.fromkeys(value))


def _variables(doc: _Doc, node: yaml.Node | None) -> dict[str, Any] | None:
    if node is None:
        return None
    value = _jsonable(doc, node, "variables")
    if value is None:
        return None
    if not isinstance(value, dict):
        doc.add("variables must be a mapping (JSON Schema or {name: {type, ...}})", node)
        return None
    try:
        return normalise_variables(value)
    except PromptVaultError as exc:
        doc.add(f"variables: {exc.message}", node, "variables")
        return None


def _parse_prompty(
    text: str, *, path: Path, root: Path | None
) -> tuple[PromptFile | None, list[Problem]]:
    """Microsoft ``.prompty``: ``---`` YAML front matter ``---`` then the template body."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None, [
            Problem(str(path), "a .prompty file starts with a --- front-matter line", 1, 1)
        ]
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return None, [Problem(str(path), "the front matter has no closing --- line", 1, 1)]
    doc = _Doc(path, text, line_offset=1)
    front_text = "".join(lines[1:end])
    node = (
        _compose(doc, front_text)
        if front_text.strip()
        else yaml.MappingNode("tag:yaml.org,2002:map", [])
    )
    if node is None:
        return None, doc.problems
    doc.text = text
    front = _mapping(doc, node, "") or {}
    model = _value(front["model"]) if "model" in front else {}
    if not isinstance(model, dict):
        doc.add("model must be a mapping", front.get("model"), "model")
        model = {}
    chat = model.get("api", "chat") == "chat"
    fmt = _value(front["template"]) if "template" in front else "jinja2"
    if isinstance(fmt, dict):
        fmt = fmt.get("format", "jinja2")
    syntax = "mustache" if str(fmt).lower() == "mustache" else "jinja"
    body_start = end + 1  # 0-based line of the body's first line
    body, spans = _prompty_body(lines[body_start:], body_start, chat=chat)
    doc.spans.update(spans)
    for field, span in spans.items():
        doc.positions[field] = (span.line + 1, span.column + 1)
    fields: dict[str, yaml.Node] = {}
    for key in ("description", "tags"):
        if key in front:
            fields[key] = front[key]
    config = _prompty_config(model)
    variables = _value(front["inputs"]) if "inputs" in front else None
    file, problems = _build(
        doc, fields, path=path, root=root, fmt="prompty", default_syntax=syntax, body=body
    )
    if file is None or problems:
        return file, problems
    schema = None
    if isinstance(variables, dict) and variables:
        try:
            schema = normalise_variables({k: _prompty_input(v) for k, v in variables.items()})
        except PromptVaultError as exc:
            doc.add(f"inputs: {exc.message}", front.get("inputs"), "inputs")
            return None, doc.problems
    from dataclasses import replace

    return replace(file, config=config, variables_schema=schema, syntax=syntax), []  # type: ignore[arg-type]


def _prompty_input(spec: Any) -> Any:
    if isinstance(spec, dict):
        kind = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
        out = {k: v for k, v in spec.items() if k in ("type", "description", "default")}
        if "type" in out:
            out["type"] = kind.get(out["type"], out["type"])
        return out
    return {"type": "string", "default": spec} if spec is not None else {}


def _prompty_config(model: dict[str, Any]) -> dict[str, Any]:
    """``model.configuration`` names the model; ``model.parameters`` are request params."""
    config: dict[str, Any] = {}
    conf = model.get("configuration") or {}
    if isinstance(conf, dict):
        name = conf.get("model") or conf.get("azure_deployment") or conf.get("name")
        if isinstance(name, str) and "${" not in name:
            config["model"] = name
        if isinstance(conf.get("type"), str):
            config["provider"] = conf["type"]
    params = model.get("parameters") or {}
    if isinstance(params, dict):
        config.update({k: v for k, v in params.items() if not str(v).startswith("${")})
    return config


def _prompty_body(
    lines: list[str], start: int, *, chat: bool
) -> tuple[str | list[dict[str, Any]], dict[str, Span]]:
    """The body as one template, or split into messages at ``role:`` lines."""
    marks = [i for i, line in enumerate(lines) if _PROMPTY_ROLE.match(line)]
    if not chat or not marks:
        first = next((i for i, line in enumerate(lines) if line.strip()), 0)
        body = "".join(lines[first:]).strip("\n") + ("\n" if lines else "")
        return body.rstrip() + "\n" if body.strip() else "", {
            "template": Span("raw", start + first, 0)
        }
    messages: list[dict[str, Any]] = []
    spans: dict[str, Span] = {}
    for n, mark in enumerate(marks):
        match = _PROMPTY_ROLE.match(lines[mark])
        assert match is not None
        role = match.group(1).lower()
        role = "tool" if role == "function" else role
        stop = marks[n + 1] if n + 1 < len(marks) else len(lines)
        chunk = lines[mark + 1 : stop]
        first = next((i for i, line in enumerate(chunk) if line.strip()), 0)
        content = "".join(chunk[first:]).strip()
        where = f"messages[{n}].content"
        spans[where] = Span("raw", start + mark + 1 + first, 0)
        messages.append({"role": role, "content": content})
    return messages, spans
