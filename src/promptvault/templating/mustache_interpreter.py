"""The tree-walking lane: render parsed Mustache nodes directly, with no generated code.

Generated code (``mustache_compiler``) renders fastest, but CPython's ``compile()`` costs
about a second per few megabytes of source, and a template's code is tens of times its size.
Templates with more tags than ``CODEGEN_MAX_TAGS`` therefore render through this
interpreter: compiling them costs only the (linear) parse. It is also the reference the
other lanes are tested against, so it follows the generated code's rules exactly: the same
lookups, the same misses in the same order, the same step and size checks at the same places.

A unit made here has the generated unit's signature, so partials, parents and blocks mix
freely between the lanes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promptvault.templating.mustache_parser import Block, Node, Parent, Partial, Section, Var
from promptvault.templating.mustache_runtime import (
    MISS,
    RUN_CHUNK,
    Key,
    Misses,
    add_miss,
    escape_html,
    look,
    missing_error,
    overflow_error,
    resolve,
    sequence,
    size_error,
    steps_error,
    to_str,
    weight,
)

__all__ = ["CODEGEN_MAX_TAGS", "count_tags", "interpret_unit"]

# Above this many tags a unit is interpreted rather than compiled (see the module docstring):
# generating and compiling code for this many tags takes about a tenth of a second.
CODEGEN_MAX_TAGS = 400

Unit = Callable[..., tuple[str, Misses]]
_Budget = list[int]


def count_tags(nodes: list[Node]) -> int:
    """Tags in ``nodes`` and everything nested in them (literal text does not count)."""
    count = 0
    stack = [nodes]
    while stack:
        for node in stack.pop():
            if type(node) is str:
                continue
            count += 1
            if isinstance(node, Section | Block):
                stack.append(node.children)
            elif isinstance(node, Parent):
                count += len(node.blocks)
                stack.extend(block.children for block in node.blocks)
    return count


class _Interpreter:
    def __init__(
        self,
        unit: str | None,
        escape: bool,
        max_chars: int,
        max_steps: int,
        runtime: dict[str, Any],
    ) -> None:
        self.unit = unit
        self.escape = escape
        self.max_chars = max_chars
        self.max_steps = max_steps
        self.partial = runtime["_partial"]
        self.parent = runtime["_parent"]
        self.dynamic = runtime["_dynamic"]
        self.block_call = runtime["_block"]
        self.tables: dict[int, dict[str, tuple[Unit, str, bool]]] = {}
        self.weights: dict[int, int] = {}
        self.plans: dict[int, tuple[list[Any], bool]] = {}

    def key(self, node: Var | Section | Partial | Parent) -> Key:
        return (node.name, node.parts, node.line, node.column, self.unit)

    def info(self, node: Partial | Parent) -> tuple[str, str, int, int, str | None]:
        return (node.name, node.indent, node.line, node.column, self.unit)

    def charge(self, steps: int, budget: _Budget) -> None:
        budget[0] += steps
        if budget[0] > self.max_steps:
            raise steps_error(budget[0], self.max_steps)

    def plan(self, nodes: list[Node]) -> tuple[list[Any], bool]:
        """``nodes`` split the way the compiler splits them: runs of text and names, at most
        RUN_CHUNK names each, and single tags; and whether their sizes are added up (only
        when more than one part is computed, as in generated code). Built once per list.
        """
        found = self.plans.get(id(nodes))
        if found is not None:
            return found
        parts: list[Any] = []
        chunk: list[Any] = []
        names = 0
        for node in nodes:
            if type(node) is str or type(node) is Var:
                chunk.append(node)
                if type(node) is Var:
                    names += 1
                    if names == RUN_CHUNK:
                        parts.append(chunk)
                        chunk, names = [], 0
                continue
            if chunk:
                parts.append(chunk)
                chunk, names = [], 0
            parts.append(node)
        if chunk:
            parts.append(chunk)
        computed = sum(
            1 for part in parts if type(part) is not list or any(type(n) is Var for n in part)
        )
        found = self.plans[id(nodes)] = (parts, computed > 1)
        return found

    def nodes(  # noqa: PLR0917 - the units' calling convention
        self,
        nodes: list[Node],
        below: tuple[Any, ...],
        top: Any,
        blocks: dict[str, Any] | None,
        strict: bool,
        misses: Misses,
        depth: int,
        budget: _Budget,
    ) -> tuple[str, Misses]:
        parts, counted = self.plan(nodes)
        out: list[str] = []
        total = -1  # the first computed part is not checked (see plan)
        for part in parts:
            if type(part) is list:
                start = len(out)
                for node in part:
                    if type(node) is str:
                        out.append(node)
                        continue
                    value = resolve(below, top, node.parts)
                    if value is MISS:
                        if strict:
                            misses = add_miss(misses, self.key(node))
                        continue
                    out.append(escape_html(value) if self.escape and node.escape else to_str(value))
                if not counted or all(type(node) is str for node in part):
                    continue
                size = sum(map(len, out[start:]))
            else:
                piece, misses = self.tag(part, below, top, blocks, strict, misses, depth, budget)
                out.append(piece)
                if not counted:
                    continue
                size = len(piece)
            if total < 0:
                total = size
                continue
            total += size
            if total > self.max_chars:
                raise size_error(total, self.max_chars)
        return "".join(out), misses

    def tag(  # noqa: PLR0917 - the units' calling convention
        self,
        node: Node,
        below: tuple[Any, ...],
        top: Any,
        blocks: dict[str, Any] | None,
        strict: bool,
        misses: Misses,
        depth: int,
        budget: _Budget,
    ) -> tuple[str, Misses]:
        if isinstance(node, Section):
            return self.section(node, below, top, blocks, strict, misses, depth, budget)
        if isinstance(node, Partial):
            if not node.dynamic:
                return self.partial(  # type: ignore[no-any-return]
                    self.info(node), below, top, blocks, strict, misses, depth, budget
                )
            value, misses = look(below, top, self.key(node), strict, misses)
            return self.dynamic(  # type: ignore[no-any-return]
                value, self.info(node), None, below, top, blocks, strict, misses, depth, budget
            )
        if isinstance(node, Parent):
            table = self.table(node)
            if not node.dynamic:
                return self.parent(  # type: ignore[no-any-return]
                    self.info(node), table, below, top, blocks, strict, misses, depth, budget
                )
            value, misses = look(below, top, self.key(node), strict, misses)
            return self.dynamic(  # type: ignore[no-any-return]
                value, self.info(node), table, below, top, blocks, strict, misses, depth, budget
            )
        assert isinstance(node, Block)
        found = blocks.get(node.name) if blocks else None
        if found is None:
            return self.nodes(node.children, below, top, blocks, strict, misses, depth, budget)
        return self.block_call(  # type: ignore[no-any-return]
            found, (node.indent, node.first), below, top, blocks, strict, misses, depth, budget
        )

    def section(  # noqa: PLR0917 - the units' calling convention
        self,
        node: Section,
        below: tuple[Any, ...],
        top: Any,
        blocks: dict[str, Any] | None,
        strict: bool,
        misses: Misses,
        depth: int,
        budget: _Budget,
    ) -> tuple[str, Misses]:
        if node.parts:
            value, misses = look(below, top, self.key(node), strict, misses)
        else:
            value = top
        if node.inverted:
            if value:
                return "", misses
            return self.nodes(node.children, below, top, blocks, strict, misses, depth, budget)
        if not value:
            return "", misses
        items = value if type(value) is list else sequence(value)
        cost = self.weights.get(id(node))
        if cost is None:
            cost = self.weights[id(node)] = weight(node.children)
        self.charge(len(items) * cost, budget)
        inner = (*below, top)
        out: list[str] = []
        total = 0
        for item in items:
            piece, misses = self.nodes(
                node.children, inner, item, blocks, strict, misses, depth, budget
            )
            total += len(piece)
            if total > self.max_chars:
                raise size_error(total, self.max_chars)
            out.append(piece)
        return "".join(out), misses

    def table(self, node: Parent) -> dict[str, tuple[Unit, str, bool]]:
        """The block arguments of a parent tag, as units (built once per tag)."""
        table = self.tables.get(id(node))
        if table is None:
            table = {
                block.name: (self.block_unit(block), block.indent, block.first)
                for block in node.blocks
            }
            self.tables[id(node)] = table
        return table

    def block_unit(self, block: Block) -> Unit:
        children = block.children
        cost = weight(children)

        def argument(  # noqa: PLR0917 - the units' calling convention
            below: tuple[Any, ...],
            top: Any,
            blocks: dict[str, Any] | None,
            strict: bool,
            misses: Misses,
            depth: int,
            budget: _Budget,
        ) -> tuple[str, Misses]:
            self.charge(cost, budget)
            return self.nodes(children, below, top, blocks, strict, misses, depth, budget)

        return argument


def interpret_unit(
    nodes: list[Node],
    *,
    unit: str | None,
    escape: bool,
    max_bytes: int,
    max_steps: int,
    runtime: dict[str, Any],
    root: bool,
) -> Callable[..., Any]:
    """A unit with the signature ``compile_unit`` gives (see there), walking ``nodes``."""
    interpreter = _Interpreter(unit, escape, max_bytes, max_steps, runtime)
    check_size = runtime["_check_size"]
    quarter = max_bytes // 4
    walk = interpreter.nodes
    if root:

        def render(data: Any, *, strict: bool = True) -> str:
            try:
                text, misses = walk(nodes, (), data, None, strict, None, 0, [0])
            except (RecursionError, MemoryError) as error:
                raise overflow_error(error) from None
            if len(text) > quarter:
                check_size(text, max_bytes)
            if misses:
                raise missing_error(misses)
            return text

        return render

    cost = weight(nodes)

    def partial(  # noqa: PLR0917 - the units' calling convention
        below: tuple[Any, ...],
        top: Any,
        blocks: dict[str, Any] | None,
        strict: bool,
        misses: Misses,
        depth: int,
        budget: _Budget,
    ) -> tuple[str, Misses]:
        interpreter.charge(cost, budget)
        text, misses = walk(nodes, below, top, blocks, strict, misses, depth, budget)
        if len(text) > quarter:
            check_size(text, max_bytes)
        return text, misses

    return partial
