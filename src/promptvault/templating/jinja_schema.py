"""The JSON Schema a Jinja template implies, inferred from its AST at compile time.

Strings by default; a name iterated by ``for`` is an array whose items are inferred from
the loop variable; ``a.b`` makes ``a`` an object with property ``b``; names read only in
conditions accept anything. The same walk learns which names must be present (those read
outside ``is defined`` tests and ``|default``) and where each name is first used, which is
what strict rendering reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from jinja2 import nodes

from promptvault.templating.jinja_analysis import PARTIAL_NODES, const_names, is_guard_call

__all__ = ["Analysis", "analyse"]

_RANK = {None: 0, "any": 1, "string": 2, "object": 3, "array": 3}
_STRING_FILTERS = frozenset(
    {"capitalize", "center", "e", "escape", "indent", "lower", "replace", "striptags"}
    | {"title", "trim", "truncate", "upper", "urlize", "wordcount", "wordwrap"}
)
_ARRAY_FILTERS = frozenset(
    {"batch", "first", "join", "last", "list", "map", "reject", "rejectattr", "reverse"}
    | {"select", "selectattr", "slice", "sort", "sum", "unique"}
)
# Filters whose result has the same element shape as their input (for x in xs|sort).
_PASSTHROUGH_FILTERS = frozenset(
    {"list", "reject", "rejectattr", "reverse", "select", "selectattr", "sort", "unique"}
)
_OBJECT_METHODS = frozenset({"get", "items", "keys", "values"})
_STRING_METHODS = frozenset(
    {"capitalize", "endswith", "lower", "lstrip", "replace", "rstrip", "split", "splitlines"}
    | {"startswith", "strip", "title", "upper"}
)


@dataclass
class _Shape:
    kind: str | None = None
    props: dict[str, _Shape] = field(default_factory=dict)
    items: _Shape | None = None
    needed: bool = False

    def mark(self, kind: str | None) -> None:
        if kind is not None and _RANK[kind] > _RANK[self.kind]:
            self.kind = kind

    def prop(self, name: str) -> _Shape:
        if self.kind != "array":
            self.mark("object")
        return self.props.setdefault(name, _Shape())

    def item(self) -> _Shape:
        if self.kind != "object":
            self.mark("array")
        if self.items is None:
            self.items = _Shape()
        return self.items

    def schema(self) -> dict[str, Any]:
        if self.kind == "object" or (self.kind is None and self.props):
            out: dict[str, Any] = {"type": "object", "properties": {}}
            for name in sorted(self.props):
                out["properties"][name] = self.props[name].schema()
            required = sorted(n for n, p in self.props.items() if p.needed)
            if required:
                out["required"] = required
            return out
        if self.kind == "array":
            return {"type": "array", "items": self.items.schema() if self.items else {}}
        if self.kind == "any":
            return {}
        return {"type": "string"}


@dataclass
class Analysis:
    """What the compile-time walk learned about a template and its static partials."""

    schema: dict[str, Any]
    needed: frozenset[str]  # top-level names read outside any `is defined`/`|default` guard
    locations: dict[str, tuple[str | None, int]]  # name -> (partial or None, first line)
    attributes: list[tuple[str, str, str | None, int]]  # (attr, dotted path, partial, line)


class _Walker:
    def __init__(
        self, variables: frozenset[str], load: Callable[[str], nodes.Template | None]
    ) -> None:
        self.root = _Shape("object")
        self.variables = variables
        self.load = load
        self.guarded: list[frozenset[str]] = []
        self.template: str | None = None
        self.visiting: set[str] = set()
        self.locations: dict[str, tuple[str | None, int]] = {}
        self.attributes: list[tuple[str, str, str | None, int]] = []

    # statements ---------------------------------------------------------------------------

    def body(self, stmts: Iterable[nodes.Node], scope: dict[str, _Shape]) -> None:
        for stmt in stmts:
            self.stmt(stmt, scope)

    def stmt(self, node: nodes.Node, scope: dict[str, _Shape]) -> None:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                self.expr(child, scope, "string")
        elif isinstance(node, nodes.If):
            self._if(node, scope)
        elif isinstance(node, nodes.For):
            self._for(node, scope)
        elif isinstance(node, nodes.Assign):
            shape = self.expr(node.node, scope, None)
            self._bind(node.target, scope, shape)
        elif isinstance(node, nodes.AssignBlock):
            self.body(node.body, scope)
            self._bind(node.target, scope, None)
        elif isinstance(node, nodes.With):
            inner = dict(scope)
            for target, value in zip(node.targets, node.values, strict=False):
                self._bind(target, inner, self.expr(value, scope, None))
            self.body(node.body, inner)
        elif isinstance(node, nodes.Macro):
            inner = dict(scope)
            for arg in node.args:
                inner[arg.name] = _Shape()
            for default in node.defaults:
                self.expr(default, scope, "any")
            inner.update(caller=_Shape(), varargs=_Shape(), kwargs=_Shape())
            self.body(node.body, inner)
            scope[node.name] = _Shape()
        elif isinstance(node, nodes.CallBlock):
            self.expr(node.call, scope, "string")
            inner = dict(scope)
            for arg in node.args:
                inner[arg.name] = _Shape()
            self.body(node.body, inner)
        elif isinstance(node, PARTIAL_NODES):
            self._partial(node, scope)
        else:
            for sub in node.iter_child_nodes():
                if isinstance(sub, nodes.Expr):
                    self.expr(sub, scope, "any")
                else:
                    self.stmt(sub, scope)

    def _if(self, node: nodes.If, scope: dict[str, _Shape]) -> None:
        self.expr(node.test, scope, "any")
        defined, undefined = _defined_tests(node.test)
        self.guarded.append(defined)
        self.body(node.body, scope)
        self.guarded.pop()
        for elif_ in node.elif_:
            self._if(elif_, scope)
        self.guarded.append(undefined)
        self.body(node.else_, scope)
        self.guarded.pop()

    def _for(self, node: nodes.For, scope: dict[str, _Shape]) -> None:
        source = self.expr(node.iter, scope, None)
        item = source.item() if source is not None else _Shape()
        inner = dict(scope)
        self._bind(node.target, inner, item)
        inner["loop"] = _Shape()
        if node.test is not None:
            self.expr(node.test, inner, "any")
        self.body(node.body, inner)
        self.body(node.else_, scope)

    def _bind(self, target: nodes.Node, scope: dict[str, _Shape], shape: _Shape | None) -> None:
        if isinstance(target, nodes.Name):
            scope[target.name] = shape if shape is not None else _Shape()
        elif isinstance(target, nodes.Tuple):
            for sub in target.items:
                self._bind(sub, scope, None)
        # NSRef (ns.attr = ...) binds nothing new

    def _partial(self, node: nodes.Node, scope: dict[str, _Shape]) -> None:
        template = node.template  # type: ignore[attr-defined]
        self.expr(template, scope, "any")
        with_context = isinstance(node, nodes.Extends) or getattr(node, "with_context", False)
        for name in const_names(template):
            ast = self.load(name)
            if ast is None or name in self.visiting:
                continue  # unknown (ignore missing) or recursive: already walked
            self.visiting.add(name)
            outer, self.template = self.template, name
            self.body(ast.body, dict(scope) if with_context else {})
            self.template = outer
            self.visiting.discard(name)
        if isinstance(node, nodes.Import):
            scope[node.target] = _Shape()
        elif isinstance(node, nodes.FromImport):
            for entry in node.names:
                scope[entry[1] if isinstance(entry, tuple) else entry] = _Shape()

    # expressions --------------------------------------------------------------------------

    def expr(
        self, node: nodes.Node, scope: dict[str, _Shape], use: str | None, guard: bool = False
    ) -> _Shape | None:
        if is_guard_call(node):  # instrumentation added by the sandbox: look through it
            return self.expr(node.args[0], scope, use, guard)  # type: ignore[attr-defined]
        if isinstance(node, nodes.Name):
            return self._name(node, scope, use, guard)
        if isinstance(node, (nodes.Getattr, nodes.Getitem)):
            return self._member(node, scope, use, guard)
        if isinstance(node, nodes.Filter):
            return self._filter(node, scope, use, guard)
        if isinstance(node, nodes.Test):
            self._args(node, scope)
            guarding = node.name in ("defined", "undefined")
            self.expr(node.node, scope, "any", guard=guarding)
            return None
        if isinstance(node, nodes.Call):
            return self._call(node, scope)
        if isinstance(node, nodes.CondExpr):
            self.expr(node.test, scope, "any")
            self.expr(node.expr1, scope, use)
            if node.expr2 is not None:
                self.expr(node.expr2, scope, use)
            return None
        if isinstance(node, nodes.Concat):
            for child in node.nodes:
                self.expr(child, scope, "string")
            return None
        for sub in node.iter_child_nodes():
            self.expr(sub, scope, "any")
        return None

    def _name(
        self, node: nodes.Name, scope: dict[str, _Shape], use: str | None, guard: bool
    ) -> _Shape | None:
        if node.ctx != "load":
            return None
        if node.name in scope:
            shape: _Shape | None = scope[node.name]
        elif node.name in self.variables:
            shape = self.root.prop(node.name)
            self.locations.setdefault(node.name, (self.template, node.lineno))
            if not guard and not any(node.name in g for g in self.guarded):
                shape.needed = True
        else:
            return None
        if shape is not None:
            shape.mark(use)
        return shape

    def _member(
        self,
        node: nodes.Getattr | nodes.Getitem,
        scope: dict[str, _Shape],
        use: str | None,
        guard: bool,
    ) -> _Shape | None:
        base = self.expr(node.node, scope, None)
        if isinstance(node, nodes.Getattr):
            key: Any = node.attr
        elif isinstance(node.arg, nodes.Const):
            key = node.arg.value
        else:
            self.expr(node.arg, scope, "any")
            return None
        path = _dotted(node)
        if isinstance(key, str) and path is not None:
            self.attributes.append((key, path, self.template, node.lineno))
        if base is None:
            return None
        if isinstance(key, int):
            child = base.item()
        elif isinstance(key, str):
            child = base.prop(key)
            if not guard and not any(path in g for g in self.guarded):
                child.needed = True
        else:
            return None
        child.mark(use)
        return child

    def _filter(
        self, node: nodes.Filter, scope: dict[str, _Shape], use: str | None, guard: bool
    ) -> _Shape | None:
        self._args(node, scope)
        inner = node.node
        if inner is None:
            return None
        if node.name in ("default", "d"):
            return self.expr(inner, scope, use, guard=True)
        if node.name in _STRING_FILTERS:
            self.expr(inner, scope, "string", guard)
            return None
        if node.name in ("dictsort", "items", "xmlattr"):
            self.expr(inner, scope, "object", guard)
            return None
        if node.name in _ARRAY_FILTERS:
            shape = self.expr(inner, scope, "array", guard)
            return shape if node.name in _PASSTHROUGH_FILTERS else None
        self.expr(inner, scope, "any", guard)
        return None

    def _call(self, node: nodes.Call, scope: dict[str, _Shape]) -> _Shape | None:
        self._args(node, scope)
        target = node.node
        if isinstance(target, nodes.Getattr):
            if target.attr in _OBJECT_METHODS:
                self.expr(target.node, scope, "object")
                return None
            if target.attr in _STRING_METHODS:
                self.expr(target.node, scope, "string")
                return None
        self.expr(target, scope, "any")
        return None

    def _args(self, node: nodes.Filter | nodes.Test | nodes.Call, scope: dict[str, _Shape]) -> None:
        for arg in node.args:
            self.expr(arg, scope, "any")
        for kw in node.kwargs:
            self.expr(kw.value, scope, "any")
        for dyn in (node.dyn_args, node.dyn_kwargs):
            if dyn is not None:
                self.expr(dyn, scope, "any")


def _dotted(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        base = _dotted(node.node)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        base = _dotted(node.node)
        return f"{base}.{node.arg.value}" if base else None
    return None


def _defined_tests(test: nodes.Node) -> tuple[frozenset[str], frozenset[str]]:
    """Names proven defined in the if-branch and in the else-branch of ``test``."""
    if isinstance(test, nodes.Test) and test.name in ("defined", "undefined"):
        path = _dotted(test.node)
        if path is None:
            return frozenset(), frozenset()
        yes = frozenset({path})
        return (yes, frozenset()) if test.name == "defined" else (frozenset(), yes)
    if isinstance(test, nodes.Not):
        yes, no = _defined_tests(test.node)
        return no, yes
    if isinstance(test, nodes.And):
        return _defined_tests(test.left)[0] | _defined_tests(test.right)[0], frozenset()
    return frozenset(), frozenset()


def analyse(
    ast: nodes.Template,
    variables: frozenset[str],
    load: Callable[[str], nodes.Template | None],
) -> Analysis:
    """Walk ``ast`` (and its literally named partials through ``load``) once."""
    walker = _Walker(variables, load)
    walker.body(ast.body, {})
    for name in variables:  # read only where the walk could not follow (dynamic partials)
        if name not in walker.root.props:
            walker.root.prop(name).needed = True
    needed = frozenset(n for n, s in walker.root.props.items() if s.needed)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **walker.root.schema()}
    return Analysis(schema, needed, walker.locations, walker.attributes)
