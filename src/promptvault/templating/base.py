"""The shape every compiled template has, whatever its syntax."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from promptvault.config import Settings

__all__ = [
    "Escape",
    "Limits",
    "PartialSource",
    "Template",
    "TemplateSyntaxName",
    "limits_from_settings",
]

TemplateSyntaxName = Literal["mustache", "jinja", "langfuse"]
Escape = Literal["none", "html"]
# Partials are looked up by name: a mapping, or a callable returning None when unknown
# (the registry resolves ``{{> other@label}}`` to another prompt's template this way).
PartialSource = Mapping[str, str] | Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard limits that keep a hostile or runaway template from eating the process."""

    max_source_bytes: int = 1 << 20
    max_output_bytes: int = 10 << 20
    max_depth: int = 32  # partial nesting / inheritance depth
    max_range: int = 10_000  # Jinja range() length
    # Work per render. Jinja: loop iterations + calls. Mustache: each section item costs one
    # plus the tags in the section's body, each partial call one plus the partial's tags.
    max_steps: int = 100_000
    max_tags: int = 10_000  # tags in one template or partial (bounds compile work)


DEFAULT_LIMITS = Limits()


def limits_from_settings(settings: Settings) -> Limits:
    """The engine limits ``PROMPTVAULT_MAX_SOURCE_BYTES``, ``_MAX_OUTPUT_BYTES`` and
    ``_MAX_PARTIAL_DEPTH`` configure (the defaults when they are not set)."""
    limits = Limits(
        max_source_bytes=settings.max_source_bytes,
        max_output_bytes=settings.max_output_bytes,
        max_depth=settings.max_partial_depth,
    )
    return DEFAULT_LIMITS if limits == DEFAULT_LIMITS else limits


class Template(ABC):
    """A compiled template: render it many times, ask which variables it reads."""

    syntax: TemplateSyntaxName
    source: str

    @property
    @abstractmethod
    def variables(self) -> frozenset[str]:
        """The top-level variable names the template reads."""

    @abstractmethod
    def render(self, data: Mapping[str, Any], *, strict: bool = True) -> str:
        """Render with ``data``; strict raises MissingVariablesError before any output."""

    @abstractmethod
    def schema(self) -> dict[str, Any]:
        """An inferred JSON Schema of the data the template reads."""

    def __repr__(self) -> str:
        head = self.source[:40].replace("\n", "\\n")
        return f"<{type(self).__name__} {self.syntax} {head!r}>"
