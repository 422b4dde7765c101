"""Compile and render prompt templates: spec-conformant Mustache and sandboxed Jinja.

``compile_template`` compiles once (cached); ``Template.render`` is then little more than a
string join. Rendering is single-pass: variable values are never re-read as template text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from promptvault.errors import (
    InvalidInputError,
    MissingVariablesError,
    TemplateError,
    TemplateLimitError,
    TemplateSecurityError,
    TemplateSyntaxError,
)
from promptvault.templating.base import (
    DEFAULT_LIMITS,
    Escape,
    Limits,
    PartialSource,
    Template,
    TemplateSyntaxName,
)
from promptvault.templating.chat import ChatTemplate, compile_chat

__all__ = [
    "ChatTemplate",
    "Limits",
    "MissingVariablesError",
    "Template",
    "TemplateError",
    "TemplateLimitError",
    "TemplateSecurityError",
    "TemplateSyntaxError",
    "compile_chat",
    "compile_template",
    "inspect_template",
    "render",
]


def compile_template(
    source: str,
    *,
    syntax: TemplateSyntaxName = "mustache",
    partials: PartialSource | None = None,
    escape: Escape = "none",
    limits: Limits | None = None,
) -> Template:
    """Compile ``source`` once; identical sources without callable partials hit an LRU cache."""
    key = _partials_key(partials)
    if key is not None and isinstance(source, str):  # anything else is rejected uncached
        return _compile_cached(source, syntax, escape, key, limits or DEFAULT_LIMITS)
    return _compile(source, syntax, partials, escape, limits or DEFAULT_LIMITS)


# Front cache for the commonest call, ``render(source, data)`` with default options: one
# dict lookup straight to the compiled render function, instead of option handling plus an
# LRU lookup (cleared when full).
_BY_SOURCE: dict[str, Callable[..., str]] = {}
_BY_SOURCE_MAX = 1024


def render(source: str, data: Mapping[str, Any], *, strict: bool = True, **options: Any) -> str:
    """Compile (cached) and render in one call; ``strict`` goes to render, the rest to compile."""
    if not options:
        try:
            fn = _BY_SOURCE[source]
        except (KeyError, TypeError):  # TypeError: not hashable, compile_template says why
            fn = compile_template(source).render
            if len(_BY_SOURCE) >= _BY_SOURCE_MAX:
                _BY_SOURCE.clear()
            _BY_SOURCE[source] = fn
        return fn(data, strict=strict)
    return compile_template(source, **options).render(data, strict=strict)


def _partials_key(partials: PartialSource | None) -> tuple[tuple[str, str], ...] | None:
    if partials is None:
        return ()
    if isinstance(partials, Mapping):
        return tuple(sorted(partials.items()))
    return None  # a callable may answer differently over time: never cache it


@lru_cache(maxsize=1024)
def _compile_cached(
    source: str,
    syntax: TemplateSyntaxName,
    escape: Escape,
    partials: tuple[tuple[str, str], ...],
    limits: Limits,
) -> Template:
    return _compile(source, syntax, dict(partials) if partials else None, escape, limits)


def inspect_template(
    source: str,
    *,
    syntax: TemplateSyntaxName = "mustache",
    partials: PartialSource | None = None,
) -> Template:
    """Compile ``source`` to check it and read its variables, not to render it often.

    The same checks and errors as :func:`compile_template`, but Mustache is interpreted
    instead of turned into Python code: generating code costs more than a check of a file
    needs (a push of hundreds of prompt files compiles each one once).
    """
    return _compile(source, syntax, partials, "none", DEFAULT_LIMITS, generate_code=False)


def _compile(
    source: str,
    syntax: str,
    partials: PartialSource | None,
    escape: Escape,
    limits: Limits,
    *,
    generate_code: bool = True,
) -> Template:
    if not isinstance(source, str):
        raise InvalidInputError(
            f"template must be a string, not {type(source).__name__}",
            details={"field": "template"},
        )
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > limits.max_source_bytes:
        raise TemplateLimitError(
            f"template is {size} bytes, over the {limits.max_source_bytes}-byte limit",
            details={"limit": "max_source_bytes", "value": size, "max": limits.max_source_bytes},
        )
    if syntax == "mustache":
        from promptvault.templating.mustache import MustacheTemplate

        return MustacheTemplate(
            source,
            partials=partials,
            escape=escape,
            limits=limits,
            lane="auto" if generate_code else "interpret",
        )
    if syntax == "jinja":
        from promptvault.templating.jinja import JinjaTemplate

        return JinjaTemplate(source, partials=partials, escape=escape, limits=limits)
    if syntax == "langfuse":
        from promptvault.templating.langfuse import LangfuseTemplate

        return LangfuseTemplate(source, limits=limits)
    raise InvalidInputError(
        f"unknown template syntax {syntax!r}: use 'mustache', 'jinja' or 'langfuse'",
        details={"field": "syntax", "value": syntax},
    )
