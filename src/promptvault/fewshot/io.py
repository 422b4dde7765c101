"""Example files: JSONL and CSV in, JSONL and CSV out, with per-line errors.

One example per JSONL line (an object) or CSV record (a header row names the columns):

* ``input`` and ``output`` — required, non-empty text;
* ``category`` — optional text;
* ``quality`` — optional number in 0..1 (default 1);
* ``metadata`` — optional object (in CSV: a JSON object in the cell).

``id``, ``usage_count``, ``created_at`` and ``collection`` (written by an export) are
accepted and ignored, so an export imports back. Any other key is an error that names it, so
a typo (``ouput``) is caught rather than silently dropped. Line numbers are 1-based and, for
CSV, the line a record starts on (a quoted cell may span lines).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from promptvault.entities import Example, check_json_bounds, check_text
from promptvault.errors import InvalidInputError
from promptvault.fewshot.models import RowError

__all__ = ["FORMATS", "ParsedRow", "check_example", "dump_examples", "parse_rows", "sniff_format"]

Format = Literal["jsonl", "csv"]
FORMATS: tuple[str, ...] = ("jsonl", "csv")
_FIELDS = ("input", "output", "category", "quality", "metadata")
_IGNORED = frozenset({"id", "usage_count", "created_at", "collection"})
MAX_TEXT = 100_000


ParsedRow = tuple[int, dict[str, Any]]  # (line, checked fields)


class _RowProblem(Exception):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_example(raw: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Checked example fields from a mapping; raises :class:`InvalidInputError` naming the field.

    ``partial`` checks only the keys present (an edit).
    """
    try:
        return _check(raw, partial=partial)
    except _RowProblem as problem:
        raise InvalidInputError(problem.message, details={"field": problem.field}) from None


def _check(raw: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = sorted(k for k in raw if k not in _FIELDS and k not in _IGNORED)
    if unknown:
        raise _RowProblem(
            unknown[0],
            f"unknown field {unknown[0]!r} (fields: {', '.join(_FIELDS)})",
        )
    out: dict[str, Any] = {}
    for key in ("input", "output"):
        if key not in raw and partial:
            continue
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise _RowProblem(key, f"{key} must be non-empty text")
        if len(value) > MAX_TEXT:
            raise _RowProblem(key, f"{key} is longer than {MAX_TEXT} characters")
        out[key] = _storable(value, key)
    if "category" in raw:
        category = raw["category"]
        if category in (None, ""):
            out["category"] = None
        elif not isinstance(category, str) or len(category) > 200:
            raise _RowProblem("category", "category must be text of at most 200 characters")
        else:
            out["category"] = _storable(category, "category")
    if "quality" in raw:
        out["quality"] = _quality(raw["quality"])
    if "metadata" in raw:
        out["metadata"] = _metadata(raw["metadata"])
    if not partial:
        out.setdefault("category", None)
        out.setdefault("quality", 1.0)
        out.setdefault("metadata", {})
    return out


def _storable(value: str, field: str) -> str:
    try:
        return check_text(value, field)
    except InvalidInputError as err:
        raise _RowProblem(field, err.message) from None


def _quality(value: Any) -> float:
    if value is None or value == "":
        return 1.0
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise _RowProblem("quality", f"quality must be a number, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _RowProblem("quality", f"quality must be a number, not {value!r}")
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise _RowProblem("quality", f"quality must be between 0 and 1, not {value}")
    return float(value)


def _unusable(error: ValueError | RecursionError) -> str:
    """Why valid JSON could not be read, in the user's terms (Python's advice cut)."""
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error).split(";", 1)[0]


def _metadata(value: Any) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise _RowProblem("metadata", f"metadata is not valid JSON: {exc.msg}") from None
        except (ValueError, RecursionError) as exc:  # a 5,000-digit number, deep nesting
            reason = f"metadata is not usable JSON: {_unusable(exc)}"
            raise _RowProblem("metadata", reason) from None
    if not isinstance(value, dict):
        raise _RowProblem("metadata", "metadata must be a JSON object")
    try:
        check_json_bounds(value, "metadata")
    except InvalidInputError as err:
        raise _RowProblem("metadata", err.message) from None
    return value


def sniff_format(name: str | None, text: str) -> Format:
    """``csv`` for a ``.csv`` name, ``jsonl`` for ``.jsonl``/``.json``; else by content."""
    lowered = (name or "").lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def parse_rows(text: str, fmt: Format) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """``(line, fields)`` for each good row and ``(line, RowError)`` for each bad one."""
    if fmt not in FORMATS:
        raise InvalidInputError(
            f"format must be one of {', '.join(FORMATS)}, not {fmt!r}",
            details={"field": "format", "value": fmt},
        )
    rows = _jsonl(text) if fmt == "jsonl" else _csv(text)
    for line, raw in rows:
        if isinstance(raw, RowError):
            yield line, raw
            continue
        try:
            yield line, _check(raw, partial=False)
        except _RowProblem as problem:
            yield line, RowError(line=line, field=problem.field, message=problem.message)


def _jsonl(text: str) -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield (
                number,
                RowError(line=number, message=f"not valid JSON: {exc.msg} (column {exc.colno})"),
            )
            continue
        except (ValueError, RecursionError) as exc:
            # Valid JSON that Python will not hold: a number of thousands of digits, or
            # nesting past the interpreter's recursion limit.
            yield number, RowError(line=number, message=f"not usable JSON: {_unusable(exc)}")
            continue
        if not isinstance(value, dict):
            yield number, RowError(line=number, message="each line must be a JSON object")
            continue
        yield number, value


def _csv(text: str) -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield 1, RowError(line=1, message=f"CSV error: {exc}")
        return
    names = [h.strip() for h in header]
    start = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, RowError(line=start, message=f"CSV error: {exc}")
            return
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(names):
            yield (
                line,
                RowError(line=line, message=f"expected {len(names)} columns, found {len(record)}"),
            )
            continue
        yield line, dict(zip(names, record, strict=True))


def dump_examples(examples: Iterable[Example], fmt: Format) -> str:
    """Examples as JSONL or CSV text (with ``id`` and ``usage_count``, ignored on import)."""
    if fmt == "jsonl":
        return "".join(
            json.dumps(
                {
                    "id": e.id,
                    "input": e.input,
                    "output": e.output,
                    "category": e.category,
                    "quality": e.quality,
                    "metadata": e.metadata,
                    "usage_count": e.usage_count,
                },
                ensure_ascii=False,
            )
            + "\n"
            for e in examples
        )
    if fmt != "csv":
        raise InvalidInputError(
            f"format must be one of {', '.join(FORMATS)}, not {fmt!r}",
            details={"field": "format", "value": fmt},
        )
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "input", "output", "category", "quality", "metadata", "usage_count"])
    for e in examples:
        writer.writerow(
            [
                e.id,
                e.input,
                e.output,
                e.category or "",
                repr(e.quality) if e.quality != int(e.quality) else int(e.quality),
                json.dumps(e.metadata, ensure_ascii=False) if e.metadata else "",
                e.usage_count,
            ]
        )
    return out.getvalue()
