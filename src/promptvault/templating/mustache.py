"""A compiled, spec-conformant Mustache engine for prompts.

``MustacheTemplate(source)`` parses the source once and compiles it to a Python function
(see ``mustache_compiler``), so a render costs little more than joining strings. It follows
the Mustache spec, including the optional inheritance (``{{<parent}}{{$block}}``) and dynamic
names (``{{>*name}}``) modules; lambdas are not supported.

Prompt-oriented behaviour (documented choices where the spec is silent):

- ``escape="none"`` by default; ``"html"`` escapes ``& < > " '`` as the spec expects.
- ``strict=True`` by default: every name that cannot be resolved, including a section's
  (normal or inverted), is reported in one ``MissingVariablesError`` with line and column,
  before any output. A present ``None``, ``False`` or empty list is not missing.
- Values: ``str`` as is; ``None`` renders empty; other scalars use ``str()`` (so ``True``
  renders ``True``); dicts, lists and tuples render as JSON (``ensure_ascii=False``).
- Truthiness for sections follows Python: ``None``, ``False``, ``0``, ``""`` and empty
  containers are false. Lists and tuples are iterated; anything else truthy is pushed once.
- Names are looked up with ``[]`` only (never attributes), so templates cannot reach Python
  internals through the data.
- An unknown partial is an error naming it in strict mode (``TemplateSyntaxError`` with
  ``details["partial"]``) and renders empty otherwise, as in the spec.
- Partials compile lazily, once per (name, indentation); nesting deeper than
  ``limits.max_depth`` (recursion included) raises ``TemplateLimitError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from promptvault.errors import TemplateLimitError, TemplateSyntaxError
from promptvault.templating.base import DEFAULT_LIMITS, Escape, Limits, PartialSource, Template
from promptvault.templating.mustache_compiler import compile_unit
from promptvault.templating.mustache_flat import getter_render, slow_render, split_flat
from promptvault.templating.mustache_interpreter import (
    CODEGEN_MAX_TAGS,
    count_tags,
    interpret_unit,
)
from promptvault.templating.mustache_parser import Node, Var, parse
from promptvault.templating.mustache_runtime import (
    SMALL_INTS,
    Misses,
    RunItem,
    escape_html,
    look,
    missing_error,
    overflow_error,
    reindent,
    run,
    sequence,
    size_error,
    steps_error,
    to_str,
    to_texts,
)
from promptvault.templating.mustache_schema import analyse, schema_of

__all__ = ["MustacheTemplate"]

_Unit = Callable[..., tuple[str, Misses]]
_NOT_LOADED: Any = object()
# How a unit is turned into a function: "auto" picks generated code, or the interpreter for
# a unit with many tags; the others force one lane (the tests compare them).
Lane = Literal["auto", "code", "interpret"]


def _check_size(text: str, limit: int) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise size_error(size, limit)


class MustacheTemplate(Template):
    """A Mustache template compiled to Python; see the module docstring for semantics."""

    syntax = "mustache"

    def __init__(
        self,
        source: str,
        *,
        partials: PartialSource | None = None,
        escape: Escape = "none",
        limits: Limits | None = None,
        name: str | None = None,
        lane: Lane = "auto",
    ) -> None:
        if escape not in ("none", "html"):
            raise ValueError(f"escape must be 'none' or 'html', not {escape!r}")
        self.source = source
        self.name = name
        self._partials = partials
        self._escape = escape == "html"
        self._limits = limits or DEFAULT_LIMITS
        self._parsed: list[Node] | None = None
        self._flat_items: tuple[RunItem, ...] | None = None
        self._sources: dict[str | None, str] = {name: source}
        self._units: dict[tuple[str, str], _Unit | None] = {}
        self._trees: dict[str, list[Node] | None] = {}
        self._variables: frozenset[str] | None = None
        self._lane = lane
        self._runtime: dict[str, Any] = {
            "__builtins__": {
                "Exception": Exception,
                "MemoryError": MemoryError,
                "RecursionError": RecursionError,
                "TypeError": TypeError,
                "bool": bool,
                "float": float,
                "int": int,
                "len": len,
                "list": list,
                "map": map,
                "str": str,
                "repr": repr,
                "type": type,
            },
            "_N": SMALL_INTS,
            "_s": to_str,
            "_texts": to_texts,
            "_e": escape_html,
            "_look": look,
            "_run": run,
            "_seq": sequence,
            "_size_error": size_error,
            "_steps_error": steps_error,
            "_overflow": overflow_error,
            "_check_size": _check_size,
            "_missing": missing_error,
            "_partial": self._call_partial,
            "_parent": self._call_parent,
            "_dynamic": self._call_dynamic,
            "_block": self._call_block,
        }
        max_bytes = self._limits.max_output_bytes
        flat = split_flat(source, self._limits.max_tags) if lane == "auto" else None
        if flat is not None:
            # Text and plain names only: no tree and no generated code (see mustache_flat).
            texts, names = flat
            base: list[str | None] = [None] * (2 * len(texts) - 1)
            base[0::2] = texts
            slow = slow_render(self._flat_spec, self._runtime, max_bytes)
            function = getter_render(
                base,
                names,
                escape=self._escape,
                slow=slow,
                runtime=self._runtime,
                max_bytes=max_bytes,
            )
            self.code = ""
        else:
            function, self.code = self._make_unit(self._nodes, name, root=True)
        # The compiled function *is* the render method: no extra call on the hot path.
        self.__dict__["render"] = function

    # --- Template API -------------------------------------------------------------------

    def render(self, data: Mapping[str, Any], *, strict: bool = True) -> str:
        """Render with ``data``; strict raises MissingVariablesError before any output."""
        result: str = self.__dict__["render"](data, strict=strict)
        return result

    @property
    def variables(self) -> frozenset[str]:
        """Top-level names read (first part of dotted names; section names, not their items)."""
        if self._variables is None:
            self._variables = frozenset(analyse(self._nodes, self._tree).props)
        return self._variables

    def schema(self) -> dict[str, Any]:
        """A draft 2020-12 JSON Schema of the data read; every top-level name is required."""
        return schema_of(analyse(self._nodes, self._tree))

    @property
    def _nodes(self) -> list[Node]:
        """The parsed tree (parsed on first use for templates on the fast lane)."""
        if self._parsed is None:
            self._parsed = parse(self.source, name=self.name, max_tags=self._limits.max_tags)
        return self._parsed

    def _make_unit(
        self, nodes: list[Node], name: str | None, *, root: bool
    ) -> tuple[Callable[..., Any], str]:
        """The function for one unit, and its generated source ("" when interpreted).

        Generated code renders fastest but costs tens of times the template's size to
        compile, so a unit with many tags is interpreted: compile work stays linear.
        """
        options: dict[str, Any] = {
            "unit": name,
            "escape": self._escape,
            "max_bytes": self._limits.max_output_bytes,
            "max_steps": self._limits.max_steps,
            "runtime": self._runtime,
            "root": root,
        }
        lane = self._lane
        if lane == "code" or (lane == "auto" and count_tags(nodes) <= CODEGEN_MAX_TAGS):
            compiled = compile_unit(nodes, **options)
            if compiled is not None:
                return compiled.function, compiled.source
        return interpret_unit(nodes, **options), ""

    def _flat_spec(self) -> tuple[RunItem, ...]:
        """The slow-path description of a fast-lane template: text and plain variables."""
        if self._flat_items is None:
            self._flat_items = tuple(
                node
                if isinstance(node, str)
                else (node.name, node.parts, node.line, node.column, self.name, self._escape)
                for node in self._nodes
                if isinstance(node, str | Var)
            )
        return self._flat_items

    # --- partials -----------------------------------------------------------------------

    def _lookup_source(self, name: str) -> str | None:
        partials = self._partials
        if partials is None:
            return None
        found = partials.get(name) if isinstance(partials, Mapping) else partials(name)
        if found is None:
            return None
        if not isinstance(found, str):
            raise TemplateSyntaxError(
                f"partial {name!r} is a {type(found).__name__}, not template text",
                details={"partial": name},
            )
        size = len(found.encode("utf-8", "surrogatepass"))
        if size > self._limits.max_source_bytes:
            raise TemplateLimitError(
                f"partial {name!r} is {size} bytes, over the "
                f"{self._limits.max_source_bytes}-byte limit",
                details={"limit": "max_source_bytes", "partial": name, "value": size},
            )
        return found

    def _tree(self, name: str) -> list[Node] | None:
        """Parsed partial (no indentation) for analysis; unknown partials read nothing."""
        if name not in self._trees:
            source = self._lookup_source(name)
            self._trees[name] = (
                None if source is None else parse(source, name=name, max_tags=self._limits.max_tags)
            )
        return self._trees[name]

    def _unit(self, name: str, indent: str) -> _Unit | None:
        unit = self._units.get((name, indent), _NOT_LOADED)
        if unit is not _NOT_LOADED:
            return unit  # type: ignore[no-any-return]
        source = self._lookup_source(name)
        if source is None:
            unit = None
        else:
            self._sources[name] = source
            if indent:
                # A standalone partial is indented line by line: refuse before building a
                # copy that a long indentation times many lines would make huge.
                grown = len(source) + source.count("\n") * len(indent)
                if grown > self._limits.max_source_bytes:
                    raise TemplateLimitError(
                        f"partial {name!r} indented by {len(indent)} characters would be "
                        f"{grown} long, over the {self._limits.max_source_bytes} limit",
                        details={"limit": "max_source_bytes", "partial": name, "value": grown},
                    )
            nodes = parse(source, indent=indent, name=name, max_tags=self._limits.max_tags)
            unit = self._make_unit(nodes, name, root=False)[0]
        self._units[(name, indent)] = unit
        return unit  # type: ignore[no-any-return]

    def _call(  # noqa: PLR0917 - called positionally by generated code
        self,
        info: tuple[str, str, int, int, str | None],
        name: str,
        blocks: dict[str, Any] | None,
        below: tuple[Any, ...],
        top: Any,
        strict: bool,
        misses: Misses,
        depth: int,
        budget: list[int],
    ) -> tuple[str, Misses]:
        _, indent, line, column, where = info
        if depth >= self._limits.max_depth:
            raise TemplateLimitError(
                f"partials nested more than {self._limits.max_depth} deep (at {name!r}, "
                f"line {line}, column {column}); is a partial including itself?",
                details={
                    "limit": "max_depth",
                    "max": self._limits.max_depth,
                    "partial": name,
                    "line": line,
                    "column": column,
                },
            )
        unit = self._unit(name, indent)
        if unit is None:
            if strict:
                raise TemplateSyntaxError(
                    f"unknown partial {name!r}",
                    line=line,
                    column=column,
                    source=self._sources.get(where),
                    name=where,
                    details={"partial": name},
                )
            return "", misses
        try:
            return unit(below, top, blocks, strict, misses, depth + 1, budget)
        except RecursionError:
            raise TemplateLimitError(
                f"partials nested too deep for the interpreter (at {name!r})",
                details={"limit": "max_depth", "partial": name},
            ) from None

    def _call_partial(  # noqa: PLR0917 - called positionally by generated code
        self,
        info: tuple[str, str, int, int, str | None],
        below: tuple[Any, ...],
        top: Any,
        blocks: dict[str, Any] | None,
        strict: bool,
        misses: Misses,
        depth: int,
        budget: list[int],
    ) -> tuple[str, Misses]:
        return self._call(info, info[0], blocks, below, top, strict, misses, depth, budget)

    def _call_parent(  # noqa: PLR0917 - called positionally by generated code
        self,
        info: tuple[str, str, int, int, str | None],
        table: dict[str, Any],
        below: tuple[Any, ...],
        top: Any,
        blocks: dict[str, Any] | None,
        strict: bool,
        misses: Misses,
        depth: int,
        budget: list[int],
        name: str | None = None,
    ) -> tuple[str, Misses]:
        # Overrides given further out win over this tag's own arguments (the spec's
        # multi-level inheritance): merge with the active ones on top.
        merged = {**table, **blocks} if blocks else table
        return self._call(info, name or info[0], merged, below, top, strict, misses, depth, budget)

    def _call_dynamic(  # noqa: PLR0917 - called positionally by generated code
        self,
        value: Any,
        info: tuple[str, str, int, int, str | None],
        table: dict[str, Any] | None,
        below: tuple[Any, ...],
        top: Any,
        blocks: dict[str, Any] | None,
        strict: bool,
        misses: Misses,
        depth: int,
        budget: list[int],
    ) -> tuple[str, Misses]:
        if value is None or value == "":
            return "", misses
        name = value if type(value) is str else to_str(value)
        if table is None:
            return self._call(info, name, blocks, below, top, strict, misses, depth, budget)
        return self._call_parent(
            info, table, below, top, blocks, strict, misses, depth, budget, name
        )

    def _call_block(  # noqa: PLR0917 - called positionally by generated code
        self,
        found: tuple[_Unit, str, bool],
        site: tuple[str, bool],
        below: tuple[Any, ...],
        top: Any,
        blocks: dict[str, Any] | None,
        strict: bool,
        misses: Misses,
        depth: int,
        budget: list[int],
    ) -> tuple[str, Misses]:
        function, indent, first = found
        text, misses = function(below, top, blocks, strict, misses, depth, budget)
        limit = self._limits.max_output_bytes
        return reindent(text, indent, first, site[0], site[1], limit), misses
