"""What data a Mustache template reads: its top-level variables and a JSON Schema.

The rules are deliberately simple and predictable:

- a name outside any section is a top-level variable (``{{a.b}}`` reads ``a``);
- a section's name is read where the section is; names *inside* a section are attributed to
  the section's items (``{{#examples}}{{input}}{{/examples}}`` reads ``examples``, an array
  of objects with ``input``), even though at render time the context stack would also find
  them in outer data;
- inverted sections, blocks and parent arguments do not push a context: names inside them
  belong to the surrounding scope;
- static partials and parents are followed (once each); dynamic ones contribute the name
  they are looked up by.

Schema types: strings for interpolations, objects for dotted names, arrays of objects (or of
strings, for ``{{.}}``) for sections that read something, booleans for sections and
inverted sections that read nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promptvault.templating.mustache_parser import Block, Node, Parent, Partial, Section, Var

__all__ = ["Shape", "analyse", "schema_of"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class Shape:
    """How one value is used by the template."""

    __slots__ = ("flag", "item", "props", "section", "string")

    def __init__(self) -> None:
        self.props: dict[str, Shape] = {}  # dotted names below this value
        self.string = False  # interpolated
        self.section = False  # used as a (non-inverted) section
        self.flag = False  # used as an inverted section
        self.item: Shape | None = None  # what section content reads from each item

    def path(self, parts: tuple[str, ...]) -> Shape:
        """The shape at the dotted path ``parts`` below this one, created on first use."""
        shape = self
        for part in parts:
            shape = shape.props.setdefault(part, Shape())
        return shape

    def items(self) -> Shape:
        """The shape of each item when this value is iterated by a section."""
        if self.item is None:
            self.item = Shape()
        return self.item

    def reads(self) -> bool:
        """Whether the template reads this value at all."""
        return bool(self.props) or self.string or self.section or self.flag

    def schema(self) -> dict[str, Any]:
        """The JSON Schema fragment for this value."""
        props = dict(self.props)
        if self.section and self.item is not None and self.item.reads():
            if not props:
                return {"type": "array", "items": self.item.item_schema()}
            props.update(self.item.props)  # an object used both ways: keep every field
        if props:
            return _object(props)
        if self.string:
            return {"type": "string"}
        return {"type": "boolean"}

    def item_schema(self) -> dict[str, Any]:
        """The JSON Schema fragment for one item of a list this value stands for."""
        if self.props:
            return _object(self.props)
        if self.section or self.flag:
            return self.schema()
        return {"type": "string"}


def _object(props: dict[str, Shape]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: props[name].schema() for name in sorted(props)},
        "required": sorted(props),
    }


Loader = Callable[[str], list[Node] | None]


def analyse(nodes: list[Node], load: Loader) -> Shape:
    """Walk ``nodes`` (and the static partials ``load`` returns) into a root ``Shape``."""
    root = Shape()
    _walk(nodes, root, load, set())
    return root


def _walk(nodes: list[Node], scope: Shape, load: Loader, seen: set[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            continue
        if isinstance(node, Var):
            scope.path(node.parts).string = True  # {{.}} marks the scope itself
        elif isinstance(node, Section):
            if not node.parts:
                _walk(node.children, scope, load, seen)
                continue
            target = scope.path(node.parts)
            if node.inverted:
                target.flag = True
                _walk(node.children, scope, load, seen)
            else:
                target.section = True
                _walk(node.children, target.items(), load, seen)
        elif isinstance(node, Block):
            _walk(node.children, scope, load, seen)
        elif isinstance(node, Partial | Parent):
            if node.dynamic:
                if node.parts:
                    scope.path(node.parts).string = True
            elif node.name not in seen:
                loaded = load(node.name)
                if loaded is not None:
                    _walk(loaded, scope, load, seen | {node.name})
            if isinstance(node, Parent):
                for block in node.blocks:
                    _walk(block.children, scope, load, seen)


def schema_of(root: Shape) -> dict[str, Any]:
    """The document-level schema for the root shape."""
    return {"$schema": SCHEMA_DIALECT, **_object(root.props)}
