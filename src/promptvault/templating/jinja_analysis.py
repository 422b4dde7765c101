"""Static work on a parsed Jinja template: security screen, instrumentation, inferred schema.

All of it walks Jinja's AST once at compile time, so rendering pays nothing for it:

* :func:`check_security` refuses dunder, name-mangled and frame/code attribute names written
  literally in the template, before any code is generated (the sandbox refuses computed ones
  at run time);
* :func:`instrument` wraps every ``for`` iterable and ``~`` concatenation so the sandbox can
  count loop steps and bound string sizes;
* :func:`analyse` infers the JSON Schema of the data, which names must be present (not only
  read under ``is defined`` or ``|default``), and where each name is first used.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from jinja2 import nodes
from jinja2.visitor import NodeTransformer

from promptvault.errors import TemplateSecurityError

__all__ = [
    "GADGET_ATTRIBUTES",
    "RESERVED_NAMES",
    "Analysis",
    "analyse",
    "check_security",
    "column_of",
    "const_names",
    "instrument",
    "is_unsafe_name",
]

# Attributes that lead from an ordinary object to frames, code or module globals. Names with
# a leading underscore are refused wholesale at run time; these are the public-looking ones.
GADGET_ATTRIBUTES = frozenset(
    {
        "ag_await",
        "ag_code",
        "ag_frame",
        "co_code",
        "cr_await",
        "cr_code",
        "cr_frame",
        "f_back",
        "f_builtins",
        "f_code",
        "f_globals",
        "f_locals",
        "func_closure",
        "func_code",
        "func_defaults",
        "func_dict",
        "func_globals",
        "gi_code",
        "gi_frame",
        "gi_yieldfrom",
        "im_class",
        "im_func",
        "im_self",
        "mro",
        "tb_frame",
        "tb_next",
    }
)

# Names that web frameworks and Jinja itself put in template globals. None exists here; a
# template reaching for one that the data does not supply is probing, not forgetting a value.
RESERVED_NAMES = frozenset(
    {
        "config",
        "cycler",
        "get_flashed_messages",
        "joiner",
        "lipsum",
        "namespace",
        "request",
        "session",
        "url_for",
    }
)

_MANGLED = re.compile(r"^_[A-Za-z0-9]\w*__\w+$")
_PARTIAL_NODES = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)


def is_unsafe_name(name: str) -> bool:
    """True for dunder, name-mangled and frame/code attribute names."""
    return (
        (name.startswith("__") and name.endswith("__") and len(name) > 4)
        or bool(_MANGLED.match(name))
        or name in GADGET_ATTRIBUTES
    )


def column_of(source: str, line: int, *tokens: str | None) -> int:
    """Best-effort 1-based column of the first of ``tokens`` found on ``line``.

    Jinja reports lines only; the column points at the name, else at the first tag.
    """
    lines = source.splitlines() or [""]
    text = lines[min(max(line, 1), len(lines)) - 1]
    for token in tokens:
        if not token:
            continue
        match = re.search(rf"(?<![\w.]){re.escape(token)}(?!\w)", text)
        if match is None:
            match = re.search(re.escape(token), text)
        if match is not None:
            return match.start() + 1
    tag = re.search(r"\{[{%#]", text)
    return tag.start() + 1 if tag else 1


def const_names(node: nodes.Node) -> list[str]:
    """Template names written literally in an include/extends/import (``'a'`` or ``['a', 'b']``)."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (nodes.List, nodes.Tuple)):
        return [
            i.value for i in node.items if isinstance(i, nodes.Const) and isinstance(i.value, str)
        ]
    return []


# --- security screen ----------------------------------------------------------------------


def check_security(ast: nodes.Template, name: str | None) -> None:
    """Refuse literal unsafe attribute names anywhere in the template."""
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Test, nodes.Call)):
        for attr in _literal_attributes(node):
            if is_unsafe_name(attr):
                details: dict[str, Any] = {"line": node.lineno, "attribute": attr}
                if name is not None:
                    details["template"] = name
                raise TemplateSecurityError(
                    f"access to {attr!r} is not allowed in templates (line {node.lineno})",
                    details=details,
                )


def _literal_attributes(node: nodes.Node) -> Iterable[str]:
    if isinstance(node, nodes.Getattr):
        yield node.attr
    elif isinstance(node, nodes.Getitem):
        if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            yield node.arg.value
    elif isinstance(node, (nodes.Filter, nodes.Test)):
        # |attr('__class__'), |map(attribute='__globals__'), selectattr('__init__')...
        for arg in [*node.args, *(k.value for k in node.kwargs)]:
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                yield arg.value
    elif isinstance(node, nodes.Call):
        # '{0.__class__}'.format(x): the field names inside a literal format string
        target = node.node
        if (
            isinstance(target, nodes.Getattr)
            and target.attr in ("format", "format_map")
            and isinstance(target.node, nodes.Const)
            and isinstance(target.node.value, str)
        ):
            yield from _format_attributes(target.node.value)


def _format_attributes(fmt: str) -> Iterable[str]:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(fmt) if f]
    except ValueError:
        return
    for field_name in fields:
        yield from re.findall(r"[.\[]([^.\[\]]+)", field_name)


# --- instrumentation ----------------------------------------------------------------------


class _Instrument(NodeTransformer):
    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _env_call("guard_iter", node.iter)  # type: ignore[arg-type]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _env_call("check_size", node)


_GUARDS = frozenset({"check_size", "guard_iter"})


def _env_call(method: str, arg: nodes.Expr) -> nodes.Call:
    # Compiles to environment.call(context, environment.<method>, <arg>) in the sandbox.
    call = nodes.Call(nodes.EnvironmentAttribute(method), [arg], [], None, None)
    call.set_lineno(arg.lineno)
    return call


def instrument(ast: nodes.Template) -> None:
    """Route loop iterables and ``~`` results through the sandbox's step and size guards."""
    if getattr(ast, "_promptvault_instrumented", False):
        return
    _Instrument().visit(ast)
    ast._promptvault_instrumented = True  # type: ignore[attr-defined]
    if ast.environment is not None:
        ast.set_environment(ast.environment)


# --- inferred schema ----------------------------------------------------------------------

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
        elif isinstance(node, _PARTIAL_NODES):
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
        if _is_guard_call(node):  # instrumentation added by the sandbox: look through it
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


def _is_guard_call(node: nodes.Node) -> bool:
    return (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.EnvironmentAttribute)
        and node.node.name in _GUARDS
        and len(node.args) == 1
    )


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
