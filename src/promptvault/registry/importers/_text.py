"""Templates from other tools as Mustache whose literal text renders exactly as written.

An importer splits a foreign template into literal runs and variable names; this module
writes them back as Mustache. When a literal run contains ``{{`` (which Mustache would read
as a tag), the template switches to delimiters the text does not contain, on a first line of
its own that Mustache drops (a standalone tag), so the output is the literal text unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["Piece", "to_mustache"]

# Literal text, or ("var", name).
Piece = str | tuple[str, str]


def _reads_back(pieces: Sequence[Piece]) -> bool:
    """Whether plain ``{{name}}`` tags would parse back to exactly these pieces: no ``{{``
    in the literals, and no brace beside a tag to make it a triple ``{{{...}}}``."""
    for index, piece in enumerate(pieces):
        if not isinstance(piece, str):
            continue
        if "{{" in piece:
            return False
        before = index > 0 and not isinstance(pieces[index - 1], str)
        after = index + 1 < len(pieces) and not isinstance(pieces[index + 1], str)
        if (before and piece.startswith("}")) or (after and piece.endswith("{")):
            return False
    return True


def to_mustache(pieces: Sequence[Piece]) -> str:
    """Mustache source rendering the literals as written and each variable by name."""
    plain = "".join(p if isinstance(p, str) else "{{" + p[1] + "}}" for p in pieces)
    if _reads_back(pieces):
        return plain
    whole = "".join(p if isinstance(p, str) else p[1] for p in pieces)
    width = 1  # <% %>, else <%% %%>, ...: some width is absent from any finite text
    while "<" + "%" * width in whole or "%" * width + ">" in whole:
        width += 1
    open_, close = "<" + "%" * width, "%" * width + ">"
    body = "".join(p if isinstance(p, str) else f"{open_}{p[1]}{close}" for p in pieces)
    return "{{=" + open_ + " " + close + "=}}\n" + body
