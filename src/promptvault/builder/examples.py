"""Turn selected few-shot examples into prompt text or chat messages.

Two shapes:

* **text** — each example is formatted on its own, by default as::

      Example {i}:
      Input: {input}
      Output: {output}

  (``i`` counts from 1), or with a Mustache template of the collection's choice rendered once
  per example with ``i``, ``id``, ``input``, ``output``, ``category``, ``quality`` and
  ``metadata``. The pieces are joined by a blank line.
* **messages** — each example becomes a ``user`` message (its input) followed by an
  ``assistant`` message (its output), the usual few-shot layout for chat models.

Example text is data: it is inserted literally and never read as template code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promptvault.entities import Example
from promptvault.templating import compile_template

__all__ = [
    "DEFAULT_EXAMPLE_SEPARATOR",
    "example_messages",
    "format_example",
    "format_examples",
]

DEFAULT_EXAMPLE_SEPARATOR = "\n\n"


def format_example(example: Example, index: int, *, template: str | None = None) -> str:
    """One example as text; ``index`` is its 1-based position in the formatted block."""
    if template is None:
        return f"Example {index}:\nInput: {example.input}\nOutput: {example.output}"
    data: dict[str, Any] = {
        "i": index,
        "id": example.id,
        "input": example.input,
        "output": example.output,
        "category": example.category,
        "quality": example.quality,
        "metadata": example.metadata,
    }
    # compile_template caches by source, so a collection's template compiles once.
    return compile_template(template).render(data)


def format_examples(
    examples: Sequence[Example],
    *,
    template: str | None = None,
    separator: str = DEFAULT_EXAMPLE_SEPARATOR,
) -> str:
    """Every example formatted with :func:`format_example`, joined by ``separator``."""
    return separator.join(
        format_example(example, i, template=template) for i, example in enumerate(examples, 1)
    )


def example_messages(examples: Sequence[Example]) -> list[dict[str, Any]]:
    """Alternating ``user`` (input) / ``assistant`` (output) messages, two per example."""
    out: list[dict[str, Any]] = []
    for example in examples:
        out.append({"role": "user", "content": example.input})
        out.append({"role": "assistant", "content": example.output})
    return out
