"""Mustache nodes -> Python source, compiled once with ``compile()``.

The generated code is what a person would write by hand for that one template. A straight
run of text and interpolations becomes one f-string over direct lookups on the top of the
context stack, inside a ``try`` (free in CPython 3.11+ until something raises)::

    try:
        x0 = t0['company_name']
        r1 = f'Agent for {(x0 if type(x0) is str else _s(x0))}.'
    except Exception:
        r1, M = _run(_R1, (), t0, strict, M)

The ``except`` path re-renders that run with the spec's full lookup rules (the context
stack, broken dotted chains) and records every miss with its line and column, so strict
mode costs nothing until a variable is actually missing. Sections become ``for`` loops;
partials, parents and blocks call back into the template object.

Values are only ever placed into the output, never parsed: rendering is single-pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from promptvault.templating.mustache_flat import (
    GETTER_AT,
    base_list,
    constant_render,
    getter_render,
    slow_render,
)
from promptvault.templating.mustache_parser import Block, Node, Parent, Partial, Section, Var
from promptvault.templating.mustache_runtime import RUN_CHUNK, Key, RunItem, weight

__all__ = ["CompiledUnit", "compile_unit"]

# Python refuses more than 100 indentation levels and more than 20 statically nested blocks
# (for/try/with). Every section, inverted section and block indents its body (a section by
# two levels and one ``for``, a run by one ``try``), so a tag that would open past this many
# indentation levels is moved into a function of its own, which starts again at one level:
# at most ~12 loops and their tries are ever nested, and indentation stays under ~30.
_OUTLINE_AT = 24


@dataclass
class CompiledUnit:
    """The generated source (kept for debugging) and the function it defines."""

    source: str
    function: Any
    namespace: dict[str, Any] = field(repr=False)


@dataclass
class _Ctx:
    k: int  # scope depth: the top frame is t{k}, the frames below are b{k}
    below: str  # expression for the frames below the top ("()" at the root)
    blocks: str  # expression for the active block overrides ("None" at the root)
    depth: str  # expression for the partial depth ("0" at the root)


def _lit(text: str) -> str:
    """``text`` as the body of a single-quoted f-string literal."""
    out = (
        text.replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("{", "{{")
        .replace("}", "}}")
    )
    if not out.isprintable():
        out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in out)
    return out


class _Gen:
    def __init__(
        self,
        unit: str | None,
        escape: bool,
        max_chars: int,
        max_steps: int,
        namespace: dict[str, Any],
    ):
        self.unit = unit
        self.escape = escape
        self.max_chars = max_chars  # output chars that certainly exceed the byte limit
        self.max_steps = max_steps
        self.ns = namespace
        self.defs: list[str] = []  # extra module-level functions (outlined sections, args)
        self.after: list[tuple[str, list[tuple[str, str, str, bool]]]] = []
        self.n = 0

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, prefix: str, value: Any) -> str:
        name = self.fresh(prefix)
        self.ns[name] = value
        return name

    def key(self, name: str, parts: tuple[str, ...], line: int, column: int) -> Key:
        return (name, parts, line, column, self.unit)

    # --- expressions ------------------------------------------------------------------

    @staticmethod
    def fast(ctx: _Ctx, parts: tuple[str, ...]) -> str:
        return f"t{ctx.k}" + "".join(f"[{p!r}]" for p in parts)

    def lookup(self, out: list[str], pad: str, ctx: _Ctx, target: str, node: Any) -> None:
        """``target = <value of node.parts>`` with the slow path on failure."""
        if not node.parts:
            out.append(f"{pad}{target} = t{ctx.k}")
            return
        key = self.const("_K", self.key(node.name, node.parts, node.line, node.column))
        out.append(f"{pad}try:")
        out.append(f"{pad}    {target} = {self.fast(ctx, node.parts)}")
        out.append(f"{pad}except Exception:")
        out.append(f"{pad}    {target}, M = _look({ctx.below}, t{ctx.k}, {key}, strict, M)")

    # --- bodies -----------------------------------------------------------------------

    def body(self, nodes: list[Node], ctx: _Ctx, out: list[str], pad: str) -> str:
        """Emit statements for ``nodes`` into ``out``; return an expression for the text."""
        parts: list[tuple[bool, str]] = []  # (is_literal, text or variable name)
        run: list[str | Var] = []
        ends: list[tuple[int, str]] = []  # where each computed part is ready, and its name

        def flush() -> None:
            if run:
                for part in self.run(run, ctx, out, pad):
                    parts.append(part)
                    if not part[0]:
                        ends.append((len(out), part[1]))
                run.clear()

        for node in nodes:
            if isinstance(node, str | Var):
                run.append(node)
                continue
            flush()
            target = self.fresh("s")
            if isinstance(node, Section):
                self.section(node, ctx, out, pad, target)
            elif isinstance(node, Partial):
                self.partial(node, ctx, out, pad, target)
            elif isinstance(node, Parent):
                self.parent(node, ctx, out, pad, target)
            else:
                self.block(node, ctx, out, pad, target)
            parts.append((False, target))
            ends.append((len(out), target))
        flush()
        if len(ends) > 1:
            # Each part is bounded on its own; a running total bounds their sum, so that
            # many partial calls or loops side by side cannot build a huge string at once.
            total = self.fresh("n")
            for index, (at, part) in enumerate(reversed(ends)):
                if index == len(ends) - 1:
                    out.insert(at, f"{pad}{total} = len({part})")
                    continue
                out[at:at] = [
                    f"{pad}{total} += len({part})",
                    f"{pad}if {total} > {self.max_chars}:",
                    f"{pad}    raise _size_error({total}, {self.max_chars})",
                ]
        return _concat(parts)

    def run(
        self, items: list[str | Var], ctx: _Ctx, out: list[str], pad: str
    ) -> list[tuple[bool, str]]:
        result: list[tuple[bool, str]] = []
        chunk: list[str | Var] = []
        count = 0
        for item in items:
            chunk.append(item)
            if isinstance(item, Var):
                count += 1
                if count == RUN_CHUNK:
                    result.append(self.run_chunk(chunk, ctx, out, pad))
                    chunk, count = [], 0
        if chunk:
            result.append(self.run_chunk(chunk, ctx, out, pad))
        return result

    def run_chunk(
        self, items: list[str | Var], ctx: _Ctx, out: list[str], pad: str
    ) -> tuple[bool, str]:
        variables = [item for item in items if isinstance(item, Var)]
        if not variables:
            return (True, "".join(item for item in items if isinstance(item, str)))
        target = self.fresh("r")
        spec: list[RunItem] = []
        for item in items:
            if isinstance(item, str):
                spec.append(item)
            else:
                escape = self.escape and item.escape
                spec.append((item.name, item.parts, item.line, item.column, self.unit, escape))
        escapes = {self.escape and v.escape for v in variables}
        top = f"t{ctx.k}"
        out.append(f"{pad}try:")
        if (
            len(variables) >= GETTER_AT
            and len(escapes) == 1
            and all(len(v.parts) == 1 for v in variables)
        ):
            # Many plain names: one C-level itemgetter call fetches them all, and the
            # values are slotted between the literal pieces of a prepared list.
            base: list[str | None] = [""]
            for item in items:
                if isinstance(item, str):
                    base[-1] = f"{base[-1]}{item}"
                else:
                    base += [None, ""]
            getter = self.const("_G", itemgetter(*(v.parts[0] for v in variables)))
            template = self.const("_B", base)
            out.append(f"{pad}    x = {getter}({top})")
            fetched = "map(_e, x)" if escapes == {True} else "x"
            joined = [f"y = {template}.copy()", f"y[1::2] = {fetched}", "r = ''.join(y)"]
            retry = ["y[1::2] = _texts(x)", "r = ''.join(y)"]
        else:
            # Each value in a local of its own, then one f-string that formats str, int,
            # float and bool natively: mixed types cost no exception and no call.
            fields = []
            for item in items:
                if isinstance(item, str):
                    fields.append(_lit(item))
                    continue
                local = self.fresh("x")
                value = self.fast(ctx, item.parts)
                if self.escape and item.escape:
                    out.append(f"{pad}    {local} = _e({value})")
                    fields.append(f"{{{local}}}")
                else:
                    out.append(f"{pad}    {local} = {value}")
                    fields.append(_field(local))
            joined = [f"{target} = f'{''.join(fields)}'"]
            retry = []
        items_name = self.const("_R", tuple(spec))
        out.append(f"{pad}except Exception:")
        out.append(f"{pad}    {target}, M = _run({items_name}, {ctx.below}, {top}, strict, M)")
        out.append(f"{pad}else:")
        if not retry:  # the f-string converted every value in place
            out.extend(f"{pad}    {line}" for line in joined)
        elif escapes == {True}:  # every value already went through _e: all strings
            out.extend(f"{pad}    {line}".replace(" r =", f" {target} =") for line in joined)
        else:
            # join() refuses non-strings: convert (None, numbers, JSON) only when needed.
            out.append(f"{pad}    try:")
            out.extend(f"{pad}        {line}".replace(" r =", f" {target} =") for line in joined)
            out.append(f"{pad}    except TypeError:")
            out.extend(f"{pad}        {line}".replace(" r =", f" {target} =") for line in retry)
        return (False, target)

    # --- tags -------------------------------------------------------------------------

    def section(self, node: Section, ctx: _Ctx, out: list[str], pad: str, target: str) -> None:
        if len(pad) >= 4 * _OUTLINE_AT:
            self.outline(node, ctx, out, pad, target)
            return
        value = self.fresh("v")
        self.lookup(out, pad, ctx, value, node)
        if node.inverted:
            out.append(f"{pad}if {value}:")
            out.append(f"{pad}    {target} = ''")
            out.append(f"{pad}else:")
            expr = self.body(node.children, ctx, out, pad + "    ")
            out.append(f"{pad}    {target} = {expr}")
            return
        k = ctx.k + 1
        inner = _Ctx(k, f"b{k}", ctx.blocks, ctx.depth)
        below = f"(t{ctx.k},)" if ctx.below == "()" else f"(*{ctx.below}, t{ctx.k})"
        acc, size, piece = self.fresh("o"), self.fresh("n"), self.fresh("p")
        out.append(f"{pad}if not {value}:")
        out.append(f"{pad}    {target} = ''")
        out.append(f"{pad}else:")
        out.append(f"{pad}    b{k} = {below}")
        out.append(f"{pad}    if type({value}) is not list:")
        out.append(f"{pad}        {value} = _seq({value})")
        cost = weight(node.children)
        out.append(f"{pad}    W[0] += len({value})" + (f" * {cost}" if cost > 1 else ""))
        out.append(f"{pad}    if W[0] > {self.max_steps}:")
        out.append(f"{pad}        raise _steps_error(W[0], {self.max_steps})")
        out.append(f"{pad}    {acc} = []")
        out.append(f"{pad}    {size} = 0")
        out.append(f"{pad}    for t{k} in {value}:")
        expr = self.body(node.children, inner, out, pad + "        ")
        out.append(f"{pad}        {piece} = {expr}")
        # A running count bounds memory when loops multiply the output.
        out.append(f"{pad}        {size} += len({piece})")
        out.append(f"{pad}        if {size} > {self.max_chars}:")
        out.append(f"{pad}            raise _size_error({size}, {self.max_chars})")
        out.append(f"{pad}        {acc}.append({piece})")
        out.append(f"{pad}    {target} = ''.join({acc})")

    def outline(
        self, node: Section | Block, ctx: _Ctx, out: list[str], pad: str, target: str
    ) -> None:
        """Emit ``node`` as a function of its own and call it (see ``_OUTLINE_AT``)."""
        name = self.fresh("_f")
        below = "b" if ctx.below == "()" else ctx.below
        lines = [f"def {name}({below}, t{ctx.k}, B, strict, M, depth, W):"]
        inner = _Ctx(ctx.k, below, "B", "depth")
        result = self.fresh("s")
        if isinstance(node, Section):
            self.section(node, inner, lines, "    ", result)
        else:
            self.block(node, inner, lines, "    ", result)
        lines.append(f"    return {result}, M")
        self.defs.append("\n".join(lines))
        out.append(
            f"{pad}{target}, M = {name}({ctx.below}, t{ctx.k}, {ctx.blocks}, strict, M, "
            f"{ctx.depth}, W)"
        )

    def partial(self, node: Partial, ctx: _Ctx, out: list[str], pad: str, target: str) -> None:
        info = self.const("_P", (node.name, node.indent, node.line, node.column, self.unit))
        args = f"{ctx.below}, t{ctx.k}, {ctx.blocks}, strict, M, {ctx.depth}, W"
        if not node.dynamic:
            out.append(f"{pad}{target}, M = _partial({info}, {args})")
            return
        value = self.fresh("v")
        self.lookup(out, pad, ctx, value, node)
        out.append(f"{pad}{target}, M = _dynamic({value}, {info}, None, {args})")

    def parent(self, node: Parent, ctx: _Ctx, out: list[str], pad: str, target: str) -> None:
        info = self.const("_P", (node.name, node.indent, node.line, node.column, self.unit))
        table = self.fresh("_A")
        entries: list[tuple[str, str, str, bool]] = []
        for block in node.blocks:
            fn = self.fresh("_a")
            lines = [f"def {fn}(b0, t0, B, strict, M, depth, W):", *self.charge(block.children)]
            expr = self.body(block.children, _Ctx(0, "b0", "B", "depth"), lines, "    ")
            lines.append(f"    return {expr}, M")
            self.defs.append("\n".join(lines))
            entries.append((block.name, fn, block.indent, block.first))
        self.after.append((table, entries))
        args = f"{ctx.below}, t{ctx.k}, {ctx.blocks}, strict, M, {ctx.depth}, W"
        if not node.dynamic:
            out.append(f"{pad}{target}, M = _parent({info}, {table}, {args})")
            return
        value = self.fresh("v")
        self.lookup(out, pad, ctx, value, node)
        out.append(f"{pad}{target}, M = _dynamic({value}, {info}, {table}, {args})")

    def block(self, node: Block, ctx: _Ctx, out: list[str], pad: str, target: str) -> None:
        if ctx.blocks == "None":  # nothing can override a block at the top of the root
            expr = self.body(node.children, ctx, out, pad)
            out.append(f"{pad}{target} = {expr}")
            return
        if len(pad) >= 4 * _OUTLINE_AT:
            self.outline(node, ctx, out, pad, target)
            return
        site = self.const("_E", (node.indent, node.first))
        found = self.fresh("f")
        out.append(f"{pad}{found} = {ctx.blocks}.get({node.name!r}) if {ctx.blocks} else None")
        out.append(f"{pad}if {found} is None:")
        expr = self.body(node.children, ctx, out, pad + "    ")
        out.append(f"{pad}    {target} = {expr}")
        out.append(f"{pad}else:")
        out.append(
            f"{pad}    {target}, M = _block({found}, {site}, {ctx.below}, t{ctx.k}, "
            f"{ctx.blocks}, strict, M, {ctx.depth}, W)"
        )

    def charge(self, nodes: list[Node]) -> list[str]:
        """Statements that charge one pass over ``nodes`` to the step budget ``W``."""
        return [
            f"    W[0] += {weight(nodes)}",
            f"    if W[0] > {self.max_steps}:",
            f"        raise _steps_error(W[0], {self.max_steps})",
        ]


def _field(local: str) -> str:
    """An f-string field for the value in ``local``, reading as ``to_str`` would render it.

    Exact str passes through and None reads as empty; a small int comes from the ``_N``
    table (a larger one is formatted natively, which for an exact int is ``str``); a bool is
    a literal and a float its ``repr`` (both far cheaper than their ``__format__``).
    Anything else (containers, subclasses) goes through ``_s``.
    """
    x = local
    return (
        f'{{({x} if (k := type({x})) is str else "" if {x} is None '
        f"else (_N[{x}] if 0 <= {x} < 1024 else {x}) if k is int "
        f'else ("True" if {x} else "False") if k is bool '
        f"else repr({x}) if k is float else _s({x}))}}"
    )


def _concat(parts: list[tuple[bool, str]]) -> str:
    if not parts:
        return "''"
    if len(parts) == 1:
        literal, text = parts[0]
        return repr(text) if literal else text
    return "f'" + "".join(_lit(text) if lit else f"{{{text}}}" for lit, text in parts) + "'"


def compile_unit(
    nodes: list[Node],
    *,
    unit: str | None,
    escape: bool,
    max_bytes: int,
    max_steps: int,
    runtime: dict[str, Any],
    root: bool,
) -> CompiledUnit | None:
    """Generate and compile the function for one template (or one indented partial).

    The root template becomes ``render(t0, *, strict=True) -> str``; a partial becomes
    ``unit(b0, t0, B, strict, M, depth, W) -> (str, misses)`` (``W``: the render's step
    count, a one-item list). ``None`` when CPython refuses the generated code (a limit of its
    compiler): the caller then interprets the tree instead.
    """
    namespace: dict[str, Any] = dict(runtime)
    gen = _Gen(unit, escape, max_bytes, max_steps, namespace)
    if root and all(isinstance(node, str | Var) for node in nodes):
        flat = _flat(gen, nodes)  # type: ignore[arg-type]
        if flat is not None:
            return flat
    body: list[str] = []
    if root:
        ctx = _Ctx(0, "()", "None", "0")
        lines = ["def render(t0, *, strict=True):", "    M = None", "    W = [0]", "    try:"]
        expr = gen.body(nodes, ctx, body, "        ")
        lines.extend(body)
        lines.append(f"        o = {expr}")
        # Stack or memory exhausted deep inside: reported as the limit it is.
        lines.append("    except (RecursionError, MemoryError) as error:")
        lines.append("        raise _overflow(error) from None")
    else:
        ctx = _Ctx(0, "b0", "B", "depth")
        lines = ["def unit(b0, t0, B, strict, M, depth, W):", *gen.charge(nodes)]
        expr = gen.body(nodes, ctx, body, "    ")
        lines.extend(body)
        lines.append(f"    o = {expr}")
    # Characters are at most 4 bytes: only a long output needs the exact byte count.
    lines.append(f"    if len(o) > {max_bytes // 4}:")
    lines.append(f"        _check_size(o, {max_bytes})")
    if root:  # a too-long output is reported before missing names, on every lane
        lines += ["    if M:", "        raise _missing(M)"]
    lines.append("    return o" if root else "    return o, M")
    source = "\n".join([*gen.defs, "\n".join(lines)]) + "\n"
    try:
        code = compile(source, f"<mustache {unit or 'template'}>", "exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None
    exec(code, namespace)  # noqa: S102 - our own generated code; all user text is escaped
    for table, entries in gen.after:
        namespace[table] = {
            name: (namespace[fn], indent, first) for name, fn, indent, first in entries
        }
    return CompiledUnit(source, namespace["render" if root else "unit"], namespace)


def _flat(gen: _Gen, items: list[str | Var]) -> CompiledUnit | None:
    """A template of text and interpolations only: the most common prompt, made cheapest.

    With many plain names no code is generated (see ``mustache_flat``). Otherwise a single
    ``''.join`` over a tuple of direct lookups is generated. Either way a miss or an odd value
    falls back to the slow path.
    """
    variables = [item for item in items if isinstance(item, Var)]
    if len(variables) > RUN_CHUNK:
        return None
    if not variables:
        text = "".join(item for item in items if isinstance(item, str))
        return CompiledUnit("", constant_render(text, gen.ns, gen.max_chars), {})
    spec: tuple[RunItem, ...] = tuple(
        item
        if isinstance(item, str)
        else (item.name, item.parts, item.line, item.column, gen.unit, gen.escape and item.escape)
        for item in items
    )
    slow = slow_render(lambda: spec, gen.ns, gen.max_chars)
    escapes = {gen.escape and v.escape for v in variables}
    if (
        len(variables) >= GETTER_AT
        and len(escapes) == 1
        and all(len(v.parts) == 1 for v in variables)
    ):
        base = base_list(items)
        names = [v.parts[0] for v in variables]
        function = getter_render(
            base,
            names,
            escape=escapes == {True},
            slow=slow,
            runtime=gen.ns,
            max_bytes=gen.max_chars,
        )
        return CompiledUnit("", function, {})
    gen.ns["_slow"] = slow
    fields: list[str] = []
    fetch: list[str] = []
    for item in items:
        if isinstance(item, str):
            fields.append(_lit(item))
            continue
        local = f"x{len(fetch)}"
        value = gen.fast(_Ctx(0, "()", "None", "0"), item.parts)
        if gen.escape and item.escape:
            fetch.append(f"        {local} = _e({value})")
            fields.append(f"{{{local}}}")
        else:
            fetch.append(f"        {local} = {value}")
            fields.append(_field(local))
    lines = [
        "def render(t0, *, strict=True):",
        "    try:",
        *fetch,
        "    except Exception:",
        "        return _slow(t0, strict)",
        f"    o = f'{''.join(fields)}'",
    ]
    lines += [
        f"    if len(o) > {gen.max_chars // 4}:",
        f"        _check_size(o, {gen.max_chars})",
        "    return o",
    ]
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<mustache {gen.unit or 'template'}>", "exec"), gen.ns)  # noqa: S102
    return CompiledUnit(source, gen.ns["render"], gen.ns)
