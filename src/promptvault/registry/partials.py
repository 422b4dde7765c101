"""Partials a push includes must exist, and must not lead back to the version being pushed.

A template includes other prompts (``{{> other}}``, ``{{< layout}}``, ``{% include "other" %}``).
Before this check a push naming a prompt that does not exist, or closing a cycle, was stored
(and, as a first version, labelled ``production``), and every render failed. Now the push is
refused with the reference's line and column, unless the caller asks for a deliberate forward
reference with ``allow_missing_partials=True``; a cycle is refused always.

References are resolved as they will be right after the push: a reference to the pushed
prompt through a label the push moves (``production`` on a first version), ``latest`` or the
new number is the new version itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from promptvault.errors import (
    InvalidInputError,
    NotFoundError,
    PromptVaultError,
    TemplateLimitError,
    TemplateSyntaxError,
)
from promptvault.registry.refs import DEFAULT_LABEL, LATEST, Ref, parse_ref
from promptvault.registry.resolver import Resolver
from promptvault.registry.validation import CheckedPush
from promptvault.storage.database import Database
from promptvault.templating.mustache_parser import Block, Parent, Partial, Section, parse

__all__ = [
    "Include",
    "PendingVersion",
    "check_includes",
    "check_move_includes",
    "check_push_includes",
    "includes",
]

_JINJA_INCLUDE = re.compile(r"\{%-?\s*(?:include|import|extends|from)\s+[\"']([^\"']+)[\"']")
# How far the check follows partials of partials (the render-time depth limit is lower).
_MAX_WALK = 64


@dataclass(frozen=True, slots=True)
class Include:
    """One reference to another prompt, where it sits in the template."""

    ref: str
    field: str
    line: int
    column: int
    source: str


def includes(template: str | list[dict[str, Any]], syntax: str) -> list[Include]:
    """Every literal reference to another prompt in a (text or chat) template."""
    found: list[Include] = []
    if syntax == "langfuse":
        return found  # plain replacement: no way to include another prompt
    for field, source in _sources(template):
        if syntax == "jinja":
            for match in _JINJA_INCLUDE.finditer(source):
                line = source.count("\n", 0, match.start(1)) + 1
                column = match.start(1) - (source.rfind("\n", 0, match.start(1)) + 1) + 1
                found.append(Include(match.group(1), field, line, column, source))
            continue
        try:
            nodes = parse(source)
        except PromptVaultError:
            continue  # a template that does not parse is reported by its own compile
        for node in _walk(nodes):
            found.append(Include(node.name, field, node.line, node.column, source))
    return found


def _sources(template: str | list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    if isinstance(template, str):
        yield "template", template
        return
    for index, message in enumerate(template):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            yield f"template[{index}].content", content


def _walk(nodes: list[Any]) -> Iterator[Partial | Parent]:
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        if isinstance(node, (Partial, Parent)) and not node.dynamic:
            yield node
        if isinstance(node, Parent):
            stack.extend(reversed(node.blocks))
        elif isinstance(node, (Section, Block)):
            stack.extend(reversed(node.children))


def check_includes(
    name: str,
    template: str | list[dict[str, Any]],
    syntax: str,
    *,
    resolve: Callable[[Ref], Any],
    is_new: Callable[[Ref], bool],
    allow_missing: bool = False,
    subject: str = "the version being pushed",
) -> None:
    """Refuse a missing partial (unless ``allow_missing``) or a cycle back to the new version.

    ``resolve(ref)`` returns the PromptVersion a reference points at now (raising a
    NotFoundError); ``is_new(ref)`` tells whether it will point at the version being pushed.
    """
    for top in includes(template, syntax):
        _follow(
            name,
            top,
            syntax,
            resolve=resolve,
            is_new=is_new,
            allow_missing=allow_missing,
            subject=subject,
        )


def _follow(
    name: str,
    top: Include,
    syntax: str,
    *,
    resolve: Callable[[Ref], Any],
    is_new: Callable[[Ref], bool],
    allow_missing: bool,
    subject: str,
) -> None:
    pending: list[tuple[str, list[str]]] = [(top.ref, [])]
    seen: set[tuple[str, int]] = set()
    while pending:
        ref, chain = pending.pop()
        path = [*chain, ref]
        try:
            parsed = parse_ref(ref.strip())
        except InvalidInputError as err:
            raise _at(top, f"invalid partial reference {ref!r}: {err.message}") from None
        if is_new(parsed):
            cycle = " -> ".join([name, *path])
            raise TemplateLimitError(
                f"partial cycle: {cycle} includes {subject} "
                f"(line {top.line}, column {top.column} of {top.field})",
                details={
                    "limit": "partial_cycle",
                    "cycle": True,
                    "field": top.field,
                    "line": top.line,
                    "column": top.column,
                    "partial": top.ref,
                },
            )
        try:
            found = resolve(parsed)
        except NotFoundError as err:
            if allow_missing:
                continue
            via = f" (through {' -> '.join(chain)})" if chain else ""
            raise _at(top, f"unknown partial {ref!r}{via}: {err.message}") from None
        key = (found.name, found.version)
        if key in seen or len(seen) >= _MAX_WALK:
            continue
        seen.add(key)
        if isinstance(found.template, str):
            pending.extend((inner.ref, path) for inner in includes(found.template, syntax))


def _at(top: Include, message: str) -> TemplateSyntaxError:
    return TemplateSyntaxError(
        message,
        line=top.line,
        column=top.column,
        source=top.source,
        details={"field": top.field, "partial": top.ref},
    )


@dataclass(frozen=True)
class PendingVersion:
    """The version a push will create (or keep): what references to it will point at."""

    name: str
    version: int
    template: Any
    syntax: str
    moving: frozenset[str]  # labels the push points at it

    def answers(self, ref: Ref) -> bool:
        """Whether ``ref`` will point at this version once the push is written."""
        if ref.name != self.name:
            return False
        if ref.version is not None:
            return ref.version == self.version
        label = ref.label or DEFAULT_LABEL
        return label in self.moving or label == LATEST


def check_push_includes(
    db: Database,
    resolver: Resolver,
    name: str,
    checked: CheckedPush,
    *,
    allow_missing: bool,
    pending: Mapping[str, PendingVersion] | None = None,
) -> PendingVersion | None:
    """:func:`check_includes` for a push of ``checked`` to ``name``, as the registry stands.

    ``pending`` are versions pushed earlier in the same batch (not written yet): a partial
    naming one of them sees it, so a folder pushed in one transaction is checked as if
    pushed file by file. Returns this push's :class:`PendingVersion` when ``pending`` is
    given (None otherwise, and without reading the registry when nothing is included).
    """
    if pending is None and not includes(checked.template, checked.syntax):
        return None
    with db.read_work() as work:
        head = work.prompts.push_head(name)
    latest = head.latest_version if head is not None else 0
    unchanged = head is not None and head.newest_hash == checked.hash
    number = latest if unchanged else latest + 1
    moving = set(checked.labels) | ({DEFAULT_LABEL} if number == 1 else set())
    me = PendingVersion(name, number, checked.template, checked.syntax, frozenset(moving))

    def resolve(ref: Ref) -> Any:
        ahead = pending.get(ref.name) if pending else None
        if ahead is not None and ahead.answers(ref):
            return ahead
        return resolver.get(ref.name, label=ref.label, version=ref.version)

    if includes(checked.template, checked.syntax):
        check_includes(
            name,
            checked.template,
            checked.syntax,
            resolve=resolve,
            is_new=me.answers,
            allow_missing=allow_missing,
        )
    return me if pending is not None else None


def check_move_includes(resolver: Resolver, name: str, label: str, version: int) -> None:
    """Refuse moving ``label`` of ``name`` to ``version`` when that closes a partial cycle.

    The version's own includes were checked when it was pushed, but against where labels
    pointed then: a move can make ``name@label`` reach itself (b@2 includes a, a includes b).
    Missing partials are not this move's concern.
    """
    found = resolver.get(name, version=version, include_archived=True)
    if not includes(found.template, found.syntax):
        return

    def is_new(ref: Ref) -> bool:
        return ref.name == name and ref.version is None and (ref.label or DEFAULT_LABEL) == label

    check_includes(
        f"{name}@{version}",
        found.template,
        found.syntax,
        resolve=lambda ref: resolver.get(ref.name, label=ref.label, version=ref.version),
        is_new=is_new,
        allow_missing=True,
        subject=f"{name}@{label}, which this move points at version {version}",
    )
