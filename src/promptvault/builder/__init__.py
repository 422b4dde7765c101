"""The builder: a resolved prompt version + variables + examples -> a ready request.

Pure (no I/O): reference resolution, experiment assignment and example selection happen
above it; :class:`PromptBuilder` renders and assembles a provider-neutral
:class:`BuiltRequest` whose ``to_openai()`` / ``to_anthropic()`` give SDK keyword arguments.
"""

from __future__ import annotations

from promptvault.builder.adapters import (
    ANTHROPIC_PARAMS,
    DEFAULT_ANTHROPIC_MAX_TOKENS,
    OPENAI_PARAMS,
    anthropic_kwargs,
    openai_kwargs,
)
from promptvault.builder.builder import BuildMetadata, BuiltRequest, PromptBuilder, build_request
from promptvault.builder.examples import example_messages, format_example, format_examples

__all__ = [
    "ANTHROPIC_PARAMS",
    "DEFAULT_ANTHROPIC_MAX_TOKENS",
    "OPENAI_PARAMS",
    "BuildMetadata",
    "BuiltRequest",
    "PromptBuilder",
    "anthropic_kwargs",
    "build_request",
    "example_messages",
    "format_example",
    "format_examples",
    "openai_kwargs",
]
