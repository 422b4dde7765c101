"""``syntax="jinja"``: Jinja2 templates in a hardened sandbox, with the Mustache engine's API.

The template is parsed, screened and compiled once. Strict rendering (the default) checks the
data against the names the template reads before producing any output, so every missing name
is reported at once with its line and column; a missing attribute found only while rendering
(``user.email``) is reported the same way. Every sandbox refusal becomes a
:class:`~promptvault.errors.TemplateSecurityError`, every limit a
:class:`~promptvault.errors.TemplateLimitError`; nothing but ``TemplateError`` subclasses
escapes.
"""

from __future__ import annotations

import copy
import re
import traceback
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError, TemplateNotFound, UndefinedError

from promptvault.errors import (
    InvalidInputError,
    MissingVariablesError,
    PromptVaultError,
    TemplateError,
    TemplateLimitError,
    TemplateSecurityError,
    TemplateSyntaxError,
)
from promptvault.templating.base import DEFAULT_LIMITS, Escape, Limits, PartialSource, Template
from promptvault.templating.jinja_analysis import (
    RESERVED_NAMES,
    check_security,
    column_of,
    const_names,
)
from promptvault.templating.jinja_limits import check_tag_count
from promptvault.templating.jinja_sandbox import (
    STATE,
    UNDECLARED,
    RenderState,
    SandboxEnvironment,
    lookup_partial,
)
from promptvault.templating.jinja_schema import Analysis, analyse
from promptvault.templating.variables import integer_too_long_error

__all__ = ["JinjaTemplate"]

_MAIN = "<template>"  # Jinja's filename for a template compiled from a string
_PARTIAL_NODES = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)
_UNDEFINED_NAME = re.compile(r"^'(?P<name>.+)' is undefined$")
_NO_ATTRIBUTE = re.compile(r"has no (?:attribute|element) '?(?P<name>[^']+)'?$")
_UNCLOSED = re.compile(r"innermost block that needs to be closed is '(?P<tag>\w+)'")


@lru_cache(maxsize=64)
def _shared_environment(
    escape: Escape, partials: tuple[tuple[str, str], ...] | None, limits: Limits, strict: bool
) -> SandboxEnvironment:
    # One environment per configuration: its loader and partial cache are shared by every
    # template compiled with the same (mapping) partials.
    return SandboxEnvironment(
        limits=limits, escape=escape, strict=strict, partials=dict(partials or ())
    )


def _partials_key(partials: PartialSource | None) -> tuple[tuple[str, str], ...] | None:
    if partials is None:
        return ()
    if isinstance(partials, Mapping):
        try:
            return tuple(sorted(partials.items()))
        except TypeError:
            return None
    return None  # a callable may answer differently over time: never share it


class JinjaTemplate(Template):
    """A Jinja2 template compiled once in the hardened sandbox."""

    syntax = "jinja"

    def __init__(
        self,
        source: str,
        *,
        partials: PartialSource | None = None,
        escape: Escape = "none",
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.source = source
        # A callable answers once per name for this template, so the partial checked at
        # compile is the partial rendered (and a render never waits on the resolver twice).
        self._partials = _Snapshot(partials) if callable(partials) else partials
        self._escape: Escape = escape
        self._limits = limits
        self._key = _partials_key(partials)
        env = self._environment(strict=True)
        ast = _parse(env, source, None, limits.max_tags)
        loaded = self._load_partials(env, ast)
        self._partial_names = frozenset(loaded)
        # One code generation pass yields both the code and the undeclared names (the same
        # tracking jinja2.meta.find_undeclared_variables does, without a second pass).
        undeclared: set[str] = set()
        token = UNDECLARED.set(undeclared)
        try:
            self._code = env.compile(ast)
        except jinja2.TemplateSyntaxError as err:  # e.g. an unknown filter or test
            raise _syntax_error(err, source, None) from err
        except RecursionError as err:
            raise _nesting_error() from err
        finally:
            UNDECLARED.reset(token)
        self._variables = _variables(ast, undeclared, loaded)
        self._analysis: Analysis = analyse(ast, self._variables, loaded.get)
        self._needed = tuple(self._analysis.needed)
        self._reserved = frozenset(
            n for n in self._variables if n in RESERVED_NAMES or n.startswith("__")
        )
        self._compiled = {
            True: env.template_class.from_code(env, self._code, env.make_globals(None))
        }

    # --- Template API ----------------------------------------------------------------------

    @property
    def variables(self) -> frozenset[str]:
        """Top-level names read by the template and its literally named partials."""
        return self._variables

    def schema(self) -> dict[str, Any]:
        """The inferred JSON Schema (a fresh copy: callers may change it)."""
        return copy.deepcopy(self._analysis.schema)

    def render(self, data: Mapping[str, Any], *, strict: bool = True) -> str:
        """Render; strict reports every missing name before producing any output."""
        if data.__class__ is not dict and not isinstance(data, Mapping):
            raise InvalidInputError(
                f"template data must be a mapping, not {type(data).__name__}",
                details={"field": "data"},
            )
        probing = sorted([n for n in self._reserved if n not in data]) if self._reserved else None
        if probing:
            raise TemplateSecurityError(
                f"{probing[0]!r} is not available to templates (framework globals are "
                "not provided)",
                details={"names": probing, **self._location(probing[0])},
            )
        if strict:
            absent = [n for n in self._needed if n not in data]
            if absent:
                raise MissingVariablesError(
                    [{"name": n, **self._location(n)} for n in sorted(absent)]
                )
        template = self._compiled.get(strict) or self._lenient()
        state = RenderState()
        state.depth = 1  # the top template; partials nest below it
        token = STATE.set(state)
        try:
            return self._produce(template, data)
        except PromptVaultError:
            raise
        except SecurityError as err:
            raise TemplateSecurityError(str(err), details=_where(err)) from err
        except UndefinedError as err:
            raise self._missing(err) from err
        except TemplateNotFound as err:
            raise TemplateSyntaxError(
                f"unknown partial {err.name!r}", details={"partial": err.name, **_where(err)}
            ) from err
        except jinja2.TemplateSyntaxError as err:  # a partial named at run time
            raise _syntax_error(err, err.source or "", err.name) from err
        except RecursionError as err:
            raise TemplateLimitError(
                "template recursion is too deep (a macro or partial calls itself endlessly)",
                details={"limit": "max_depth", **_where(err)},
            ) from err
        except MemoryError as err:
            raise TemplateLimitError(
                "the template needs more memory than is available", details={"limit": "memory"}
            ) from err
        except Exception as err:
            if isinstance(err, ValueError):  # str() refused an integer of over 4,300 digits
                too_long = integer_too_long_error(data)
                if too_long is not None:
                    raise too_long from None
            where = _where(err)
            at = f" at line {where['line']}" if "line" in where else ""
            raise TemplateError(
                f"template failed{at}: {type(err).__name__}: {err}",
                details={"error": type(err).__name__, **where},
            ) from err
        finally:
            STATE.reset(token)

    def _produce(self, template: jinja2.Template, data: Mapping[str, Any]) -> str:
        """Run the top template's body, counting output as it streams out."""
        # The unguarded body skips two generator layers (Template.generate and the depth
        # guard) per output chunk; the depth of the top template is set by render().
        root = getattr(template, "unguarded_root", template.root_render_func)
        context = template.new_context(dict(data))
        cap = self._limits.max_output_bytes
        parts: list[str] = []
        append = parts.append
        size = 0
        try:
            for chunk in root(context):
                size += len(chunk)
                if size > cap:
                    raise _output_limit(size, cap)
                append(chunk)
        except PromptVaultError:
            raise
        except Exception:
            # Jinja rewrites the traceback so its frames carry template lines (used by _where).
            template.environment.handle_exception()
        text = "".join(parts)
        if size > cap // 4:
            encoded = len(text.encode("utf-8", "surrogatepass"))
            if encoded > cap:
                raise _output_limit(encoded, cap)
        return text

    # --- internals -------------------------------------------------------------------------

    def _environment(self, *, strict: bool) -> SandboxEnvironment:
        if self._key is not None:
            return _shared_environment(self._escape, self._key, self._limits, strict)
        return SandboxEnvironment(
            limits=self._limits, escape=self._escape, strict=strict, partials=self._partials
        )

    def _lenient(self) -> jinja2.Template:
        # The generated code is the same for both modes (only environment.undefined differs),
        # so the lenient twin reuses the compiled code object.
        env = self._environment(strict=False)
        compiled = env.template_class.from_code(env, self._code, env.make_globals(None))
        self._compiled[False] = compiled
        return compiled

    def _load_partials(
        self, env: SandboxEnvironment, ast: nodes.Template
    ) -> dict[str, nodes.Template]:
        """Parse every partial named literally, transitively, so errors surface at compile."""
        loaded: dict[str, nodes.Template] = {}
        pending: list[tuple[nodes.Template, str | None, str]] = [(ast, None, self.source)]
        while pending:
            tree, owner, owner_source = pending.pop()
            for node in tree.find_all(_PARTIAL_NODES):
                template_expr: nodes.Expr = node.template  # type: ignore[attr-defined]
                for name in const_names(template_expr):
                    if name in loaded:
                        continue
                    source = lookup_partial(self._partials, name)
                    if source is None:
                        if isinstance(node, nodes.Include) and node.ignore_missing:
                            continue
                        raise TemplateSyntaxError(
                            f"unknown partial {name!r}",
                            line=node.lineno,
                            column=column_of(owner_source, node.lineno, name),
                            source=owner_source,
                            name=owner,
                            details={"partial": name},
                        )
                    size = len(source.encode("utf-8", "surrogatepass"))
                    if size > self._limits.max_source_bytes:
                        raise TemplateLimitError(
                            f"partial {name!r} is {size} bytes, over the "
                            f"{self._limits.max_source_bytes}-byte limit",
                            details={"limit": "max_source_bytes", "partial": name, "value": size},
                        )
                    loaded[name] = _parse(env, source, name, self._limits.max_tags)
                    check_security(loaded[name], name)
                    pending.append((loaded[name], name, source))
        return loaded

    def _location(self, name: str) -> dict[str, Any]:
        where = self._analysis.locations.get(name)
        if where is None:
            return {}
        partial, line = where
        source = self.source if partial is None else lookup_partial(self._partials, partial) or ""
        out: dict[str, Any] = {"line": line, "column": column_of(source, line, name)}
        if partial is not None:
            out["template"] = partial
        return out

    def _missing(self, err: UndefinedError) -> MissingVariablesError:
        message = str(err)
        where = _where(err)
        top = _UNDEFINED_NAME.match(message)
        if top:
            name = top.group("name")
            entry: dict[str, Any] = {"name": name, **(self._location(name) or where)}
            return MissingVariablesError([entry])
        attr = _NO_ATTRIBUTE.search(message)
        if attr:
            key = attr.group("name")
            line = where.get("line")
            candidates = [a for a in self._analysis.attributes if a[0] == key]
            exact = [a for a in candidates if a[3] == line and a[2] == where.get("template")]
            if exact or candidates:
                _, path, partial, lineno = (exact or candidates)[0]
                source = self.source if partial is None else lookup_partial(self._partials, partial)
                entry = {
                    "name": path,
                    "line": lineno,
                    "column": column_of(source or "", lineno, path, path.rsplit(".", 1)[-1]),
                }
                if partial is not None:
                    entry["template"] = partial
                return MissingVariablesError([entry])
            return MissingVariablesError([{"name": key, **where}])
        return MissingVariablesError([{"name": message, **where}], message=message)


class _Snapshot:
    """Memoises a partial resolver callable for the lifetime of one compiled template."""

    def __init__(self, resolve: Callable[[str], str | None]) -> None:
        self._resolve = resolve
        self._seen: dict[str, str | None] = {}

    def __call__(self, name: str) -> str | None:
        if name not in self._seen:
            self._seen[name] = self._resolve(name)
        return self._seen[name]


def _parse(env: SandboxEnvironment, source: str, name: str | None, max_tags: int) -> nodes.Template:
    # Jinja's parse time is not linear in the tags: too many are refused before it starts.
    check_tag_count(source, max_tags, name)
    try:
        return env.parse(source, name=name)
    except jinja2.TemplateSyntaxError as err:
        raise _syntax_error(err, source, name) from err
    except RecursionError as err:
        raise _nesting_error() from err


def _variables(
    ast: nodes.Template, undeclared: set[str], partials: Mapping[str, nodes.Template]
) -> frozenset[str]:
    names = set(undeclared)
    if partials:
        # An included partial sees the includer's loop variables and sets: those are not
        # top-level data.
        stored = {
            n.name
            for tree in (ast, *partials.values())
            for n in tree.find_all(nodes.Name)
            if n.ctx in ("store", "param")
        }
        for name, tree in partials.items():
            try:
                found = meta.find_undeclared_variables(tree)
            except jinja2.TemplateSyntaxError as err:  # e.g. an unknown filter
                raise _syntax_error(err, err.source or "", name) from err
            names |= found - stored
    return frozenset(names)


def _syntax_error(
    err: jinja2.TemplateSyntaxError, source: str, name: str | None
) -> TemplateSyntaxError:
    message = err.message or "invalid template"
    line = err.lineno or 1
    lines = source.splitlines() or [""]
    line = min(max(line, 1), len(lines))
    column: int
    unclosed = _UNCLOSED.search(message)
    opening = None
    if unclosed and "end of template" in message:
        tag = unclosed.group("tag")
        opened = list(re.finditer(r"\{%[-+]?\s*" + re.escape(tag) + r"\b", source))
        if opened:
            opening = opened[-1].start()
            line = source.count("\n", 0, opening) + 1
            column = opening - (source.rfind("\n", 0, opening) + 1) + 1
            message = f"unclosed '{tag}' block: {message}"
    if opening is None:
        if "end of template" in message:
            column = len(lines[line - 1]) + 1
        else:
            token = re.search(r"'([^']+)'", message)
            column = column_of(source, line, token.group(1) if token else None)
    return TemplateSyntaxError(message, line=line, column=column, source=source, name=name)


def _nesting_error() -> TemplateLimitError:
    return TemplateLimitError(
        "the template nests expressions or blocks too deeply to compile",
        details={"limit": "nesting"},
    )


def _output_limit(size: int, cap: int) -> TemplateLimitError:
    return TemplateLimitError(
        f"output is over the {cap}-byte limit",
        details={"limit": "max_output_bytes", "value": size, "max": cap},
    )


def _where(err: BaseException) -> dict[str, Any]:
    """Template line (and partial name) of the innermost template frame in the traceback."""
    found: dict[str, Any] = {}
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename == _MAIN:
            found = {"line": frame.lineno}
        elif frame.filename and not frame.filename.endswith(".py") and frame.lineno:
            if frame.filename.startswith("<") and frame.filename != _MAIN:
                continue
            found = {"line": frame.lineno, "template": frame.filename}
    return found
