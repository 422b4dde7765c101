"""Static work on a parsed Jinja template: security screen and instrumentation.

Both walk Jinja's AST once at compile time, so rendering pays nothing for them:

* :func:`check_security` refuses dunder, name-mangled and frame/code attribute names written
  literally in the template, before any code is generated (the sandbox refuses computed ones
  at run time);
* :func:`instrument` wraps every ``for`` iterable and ``~`` concatenation so the sandbox can
  count loop steps and bound string sizes.

The inferred schema lives in :mod:`promptvault.templating.jinja_schema`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from typing import Any

from jinja2 import nodes
from jinja2.visitor import NodeTransformer

from promptvault.errors import TemplateSecurityError

__all__ = [
    "GADGET_ATTRIBUTES",
    "PARTIAL_NODES",
    "RESERVED_NAMES",
    "check_security",
    "column_of",
    "const_names",
    "instrument",
    "is_guard_call",
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
PARTIAL_NODES = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)


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
        # The operands go to the sandbox as one tuple, measured before they are joined
        # (a ~ a ~ a... used to be checked only after the whole string was built).
        self.generic_visit(node)
        operands = nodes.Tuple(list(node.nodes), "load")
        operands.set_lineno(node.lineno)
        return _env_call("concat_checked", operands)


_GUARDS = frozenset({"concat_checked", "guard_iter"})


def _env_call(method: str, arg: nodes.Expr) -> nodes.Call:
    # Compiles to environment.call(context, environment.<method>, <arg>) in the sandbox.
    call = nodes.Call(nodes.EnvironmentAttribute(method), [arg], [], None, None)
    call.set_lineno(arg.lineno)
    return call


def instrument(ast: nodes.Template) -> None:
    """Route loop iterables and ``~`` operands through the sandbox's step and size guards."""
    if getattr(ast, "_promptvault_instrumented", False):
        return
    _Instrument().visit(ast)
    ast._promptvault_instrumented = True  # type: ignore[attr-defined]
    if ast.environment is not None:
        ast.set_environment(ast.environment)


def is_guard_call(node: nodes.Node) -> bool:
    """True for a call the instrumentation added (the walker looks through it)."""
    return (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.EnvironmentAttribute)
        and node.node.name in _GUARDS
        and len(node.args) == 1
    )
