"""Checks beyond shape: template syntax, variables against the declared schema, partials.

Positions inside a template are mapped back to the file, so ``check`` prints
``prompts/support.yaml:7:21: error: unclosed section 'tier'`` and a caret under the spot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from promptvault.cli.files import Problem, PromptFile
from promptvault.errors import PromptVaultError, TemplateSyntaxError
from promptvault.registry.refs import parse_ref
from promptvault.templating.builtins import BUILTIN_NAMES

__all__ = ["check_files", "check_templates", "partial_refs"]

_MUSTACHE_PARTIAL = re.compile(r"\{\{\s*>\s*([^\s}]+)\s*\}\}")
_JINJA_PARTIAL = re.compile(r"\{%-?\s*(?:include|import|extends|from)\s+[\"']([^\"']+)[\"']")


def _template_fields(pf: PromptFile) -> Iterator[tuple[str, str]]:
    """(field path, template source) of every template string in the file."""
    if isinstance(pf.template, str):
        yield "template", pf.template
        return
    for index, message in enumerate(pf.template):
        content = message.get("content")
        if isinstance(content, str) and message.get("type") != "placeholder":
            yield f"messages[{index}].content", content


def _line_col(source: str, offset: int) -> tuple[int, int]:
    line = source.count("\n", 0, offset) + 1
    start = source.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


def check_templates(pf: PromptFile) -> list[Problem]:
    """Compile every template of ``pf`` and compare its variables with the declared ones."""
    from promptvault.templating import inspect_template

    problems: list[Problem] = []
    if pf.syntax not in ("mustache", "jinja", "langfuse"):
        return problems  # already reported by the shape check
    used: dict[str, tuple[str, str]] = {}
    for field, source in _template_fields(pf):
        try:
            template = inspect_template(source, syntax=pf.syntax, partials=_no_partials)
        except TemplateSyntaxError as exc:
            reason = getattr(exc, "reason", exc.message)
            if exc.line is not None:
                problems.append(pf.problem_in(field, exc.line, exc.column or 1, str(reason)))
            else:
                problems.append(pf.problem(str(reason), field))
            continue
        except PromptVaultError as exc:
            problems.append(pf.problem(exc.message, field))
            continue
        for name in sorted(template.variables):
            used.setdefault(name, (field, source))
    schema = pf.variables_schema
    if schema is None or problems:
        return problems
    declared = set((schema.get("properties") or {}).keys())
    placeholders = {
        str(m.get("name"))
        for m in (pf.template if isinstance(pf.template, list) else [])
        if m.get("type") == "placeholder"
    }
    # Like the registry: undeclared variables are refused only by a closed schema
    # (additionalProperties: false); otherwise they are worth a warning.
    closed = schema.get("additionalProperties") is False
    for name, (field, source) in sorted(used.items()):
        if name in declared or name in BUILTIN_NAMES:
            continue
        line, col = _find_variable(source, name, pf.syntax)
        problems.append(
            pf.problem_in(
                field,
                line,
                col,
                f"variable {name!r} is used but not declared in variables",
                severity="error" if closed else "warning",
            )
        )
    for name in sorted(declared - set(used) - placeholders):
        problems.append(
            pf.problem(
                f"variable {name!r} is declared but the template never uses it",
                f"variables.{name}",
                severity="warning",
            )
        )
    return problems


def _no_partials(name: str) -> str | None:
    # Partials are other prompts; ``check`` validates their names separately, so compile
    # each file on its own with every partial standing in as empty text.
    return ""


def _find_variable(source: str, name: str, syntax: str) -> tuple[int, int]:
    escaped = re.escape(name)
    if syntax == "mustache":
        pattern = re.compile(r"\{\{\{?\s*[#^&]?\s*(" + escaped + r")(?=[\s.}|])")
    else:
        pattern = re.compile(r"(?<![\w.])(" + escaped + r")\b")
    match = pattern.search(source)
    if match is None:
        return 1, 1
    return _line_col(source, match.start(1))


def partial_refs(pf: PromptFile) -> list[tuple[str, str, int, int]]:
    """(partial reference, field, template line, column) for every partial the file uses."""
    pattern = _MUSTACHE_PARTIAL if pf.syntax == "mustache" else _JINJA_PARTIAL
    found: list[tuple[str, str, int, int]] = []
    for field, source in _template_fields(pf):
        for match in pattern.finditer(source):
            line, col = _line_col(source, match.start(1))
            found.append((match.group(1), field, line, col))
    return found


def check_files(files: Iterable[PromptFile], *, known: set[str] | None = None) -> list[Problem]:
    """Template and variable checks for each file, then partial references across files.

    ``known`` is every prompt name that exists as a file; a partial naming anything else is
    reported (``None`` skips that check, e.g. when the registry may hold the partial).
    """
    files = list(files)
    problems: list[Problem] = []
    graph: dict[str, list[tuple[str, PromptFile, str, int, int]]] = {}
    for pf in files:
        problems.extend(check_templates(pf))
        for ref, field, line, col in partial_refs(pf):
            try:
                target = parse_ref(ref).name
            except PromptVaultError:
                problems.append(pf.problem_in(field, line, col, f"invalid partial {ref!r}"))
                continue
            if known is not None and target not in known:
                problems.append(
                    pf.problem_in(
                        field,
                        line,
                        col,
                        f"partial {ref!r} names no prompt among the files checked",
                    )
                )
                continue
            graph.setdefault(pf.name, []).append((target, pf, field, line, col))
    problems.extend(_cycles(graph))
    return problems


def _cycles(graph: dict[str, list[tuple[str, PromptFile, str, int, int]]]) -> list[Problem]:
    problems: list[Problem] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target, pf, field, line, col in graph.get(name, []):
            if state.get(target) == 1:
                cycle = " -> ".join([*path[path.index(target) :], target])
                problems.append(pf.problem_in(field, line, col, f"partials form a cycle: {cycle}"))
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return problems


def describe(problems: list[Problem]) -> dict[str, Any]:
    """Counts for a summary line."""
    errors = sum(p.severity == "error" for p in problems)
    return {"errors": errors, "warnings": len(problems) - errors}
