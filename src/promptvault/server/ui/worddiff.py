"""Line diffs with word-level highlights, for the side-by-side and inline diff views.

:func:`diff_rows` aligns two texts line by line (``difflib.SequenceMatcher``); a replaced
block pairs its lines one to one and marks, inside each pair, the words that changed. Long
unchanged stretches fold into a single ``skip`` row keeping a few lines of context.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

__all__ = ["DiffRow", "Part", "diff_rows", "word_parts"]

_WORD = re.compile(r"\s+|\w+|[^\w\s]")
_CONTEXT = 3


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of a line; ``changed`` pieces are highlighted."""

    text: str
    changed: bool = False


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One row: ``equal``, ``replace``, ``delete``, ``insert`` or ``skip`` (folded lines).

    ``left``/``right`` are the old and new line (as parts) with their 1-based numbers; a side
    absent from the row has number None. ``skipped`` counts the lines a ``skip`` row folds.
    """

    kind: str
    left_no: int | None = None
    right_no: int | None = None
    left: tuple[Part, ...] = field(default_factory=tuple)
    right: tuple[Part, ...] = field(default_factory=tuple)
    skipped: int = 0


def word_parts(before: str, after: str) -> tuple[tuple[Part, ...], tuple[Part, ...]]:
    """Both lines split into parts, the words that differ marked ``changed``."""
    a, b = _WORD.findall(before), _WORD.findall(after)
    left: list[Part] = []
    right: list[Part] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        changed = tag != "equal"
        if i2 > i1:
            left.append(Part("".join(a[i1:i2]), changed))
        if j2 > j1:
            right.append(Part("".join(b[j1:j2]), changed))
    return tuple(left), tuple(right)


def _plain(line: str) -> tuple[Part, ...]:
    return (Part(line),)


def _marked(line: str) -> tuple[Part, ...]:
    return (Part(line, True),)


def diff_rows(before: str, after: str, *, context: int = _CONTEXT) -> list[DiffRow]:
    """Rows aligning ``before`` and ``after``; unchanged runs fold to ``context`` lines."""
    a, b = before.splitlines(), after.splitlines()
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    opcodes = matcher.get_opcodes()
    for n, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            keep_head = 0 if n == 0 else context
            keep_tail = 0 if n == len(opcodes) - 1 else context
            length = i2 - i1
            unchanged = len(opcodes) == 1  # nothing differs: show the text, fold nothing
            if not unchanged and length > keep_head + keep_tail + 1:
                for k in range(keep_head):
                    rows.append(DiffRow("equal", i1 + k + 1, j1 + k + 1, _plain(a[i1 + k])))
                folded = length - keep_head - keep_tail
                rows.append(DiffRow("skip", skipped=folded))
                for k in range(length - keep_tail, length):
                    rows.append(DiffRow("equal", i1 + k + 1, j1 + k + 1, _plain(a[i1 + k])))
            else:
                for k in range(length):
                    rows.append(DiffRow("equal", i1 + k + 1, j1 + k + 1, _plain(a[i1 + k])))
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(pairs):
            left, right = word_parts(a[i1 + k], b[j1 + k])
            rows.append(DiffRow("replace", i1 + k + 1, j1 + k + 1, left, right))
        for k in range(i1 + pairs, i2):
            rows.append(DiffRow("delete", k + 1, None, _marked(a[k])))
        for k in range(j1 + pairs, j2):
            rows.append(DiffRow("insert", None, k + 1, (), _marked(b[k])))
    return rows
