"""Cases in and out of files: JSON Lines and CSV.

JSONL: one object per line, ``{"key"?, "variables", "expected"?, "tags"?, "metadata"?}``.
CSV: a header row; the columns ``key``, ``expected``, ``tags`` (comma separated) and
``metadata.<name>`` are what they say, every other column is a variable (cells are text).

Parsing never stops at the first bad line: it returns the cases it could read and one
:class:`~promptvault.evals.models.ImportProblem` per bad line, naming the line and field, so
the caller can refuse the whole file or keep the good lines.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from promptvault.errors import InvalidInputError
from promptvault.evals.models import Case, ImportProblem

__all__ = ["Format", "case_from_mapping", "content_key", "dump_cases", "parse_cases"]

Format = Literal["jsonl", "csv"]

MAX_KEY = 200
_RESERVED_CSV = {"key", "expected", "tags"}


def content_key(variables: Mapping[str, Any], expected: Any) -> str:
    """The key of a case given none: a digest of its content (re-imports match it)."""
    blob = json.dumps([variables, expected], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def case_from_mapping(data: Any, *, where: str = "case") -> Case:
    """A :class:`Case` from a mapping, or InvalidInputError naming the field at fault."""
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{where} must be a JSON object", details={"field": where})
    unknown = sorted(set(data) - {"key", "variables", "expected", "tags", "metadata"})
    if unknown:
        raise InvalidInputError(
            f"{where} has unknown field {unknown[0]!r} (known: key, variables, expected, "
            "tags, metadata)",
            details={"field": unknown[0]},
        )
    variables = data.get("variables", {})
    if not isinstance(variables, Mapping):
        raise InvalidInputError("variables must be an object", details={"field": "variables"})
    tags = data.get("tags") or []
    if not isinstance(tags, list):
        raise InvalidInputError("tags must be a list of strings", details={"field": "tags"})
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not tag or len(tag) > 100:
            raise InvalidInputError(
                "each tag must be a string of 1 to 100 characters",
                details={"field": f"tags[{i}]"},
            )
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError("metadata must be an object", details={"field": "metadata"})
    expected = data.get("expected")
    key = data.get("key")
    if key is None:
        key = content_key(variables, expected)
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY:
        raise InvalidInputError(
            f"key must be a non-empty string of at most {MAX_KEY} characters",
            details={"field": "key"},
        )
    return Case(
        key=key,
        variables=dict(variables),
        expected=expected,
        tags=list(tags),
        metadata=dict(metadata),
    )


def parse_cases(text: str, fmt: Format) -> tuple[list[tuple[int, Case]], list[ImportProblem]]:
    """``(line, case)`` pairs and the problems of the lines that could not be read.

    A key appearing twice is a problem on its second line.
    """
    rows = _jsonl_rows(text) if fmt == "jsonl" else _csv_rows(text)
    cases: list[tuple[int, Case]] = []
    problems: list[ImportProblem] = []
    seen: dict[str, int] = {}
    for line, data, problem in rows:
        if problem is not None:
            problems.append(problem)
            continue
        try:
            case = case_from_mapping(data, where=f"line {line}")
        except InvalidInputError as exc:
            field = str(exc.details.get("field", ""))
            problems.append(ImportProblem(line=line, field=field, message=exc.message))
            continue
        if case.key in seen:
            problems.append(
                ImportProblem(
                    line=line,
                    field="key",
                    message=f"key {case.key!r} is also on line {seen[case.key]}",
                )
            )
            continue
        seen[case.key] = line
        cases.append((line, case))
    return cases, problems


Row = tuple[int, Any, ImportProblem | None]


def _jsonl_rows(text: str) -> Iterable[Row]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield number, json.loads(raw), None
        except json.JSONDecodeError as exc:
            message = f"invalid JSON: {exc.msg} at column {exc.colno}"
            yield number, None, ImportProblem(line=number, field="", message=message)


def _csv_rows(text: str) -> Iterable[Row]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return
    header = [h.strip() for h in header]
    seen_cols: set[str] = set()
    for col in header:
        if not col or col in seen_cols:
            problem = ImportProblem(
                line=1, field=col, message=f"column {col!r} is empty or repeated"
            )
            yield 1, None, problem
            return
        seen_cols.add(col)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield (
                reader.line_num,
                None,
                ImportProblem(line=reader.line_num, field="", message=f"unreadable CSV: {exc}"),
            )
            return
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            yield (
                line,
                None,
                ImportProblem(
                    line=line,
                    field="",
                    message=f"{len(cells)} cells where the header has {len(header)} columns",
                ),
            )
            continue
        yield line, _csv_case(dict(zip(header, cells, strict=True))), None


def _csv_case(row: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"variables": {}, "metadata": {}}
    for col, value in row.items():
        if col == "key":
            if value:
                out["key"] = value
        elif col == "expected":
            out["expected"] = value if value != "" else None
        elif col == "tags":
            out["tags"] = [t.strip() for t in value.split(",") if t.strip()]
        elif col.startswith("metadata."):
            out["metadata"][col.removeprefix("metadata.")] = value
        else:
            out["variables"][col] = value
    return out


def dump_cases(cases: Sequence[Case], fmt: Format) -> str:
    """The cases as a JSONL or CSV document (CSV writes non-text values as JSON)."""
    if fmt == "jsonl":
        return "".join(
            json.dumps(c.model_dump(), ensure_ascii=False, sort_keys=True) + "\n" for c in cases
        )
    variables = sorted({k for c in cases for k in c.variables} - _RESERVED_CSV)
    metadata = sorted({k for c in cases for k in c.metadata})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["key", *variables, "expected", "tags", *(f"metadata.{m}" for m in metadata)])
    for c in cases:
        writer.writerow(
            [
                c.key,
                *(_cell(c.variables.get(v)) for v in variables),
                _cell(c.expected),
                ",".join(c.tags),
                *(_cell(c.metadata.get(m)) for m in metadata),
            ]
        )
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
