"""Refuse values a database cannot store before they reach it, as ``invalid_input``.

Every statement's parameters pass through :func:`check_parameters` (a ``before_cursor_execute``
hook installed on every engine), so a value one database refuses is refused on both, with a
clear error naming the field, instead of a driver error answered as 500:

- text with a NUL character (PostgreSQL text and JSON cannot hold it) or a lone surrogate
  (not encodable as UTF-8, so SQLite's driver fails on it);
- JSON whose text holds a lone ``\\udXXX`` surrogate escape (PostgreSQL's JSON parser refuses it);
- integers outside 64 bits (SQLite overflows), and outside 32 bits for ``Integer`` columns
  (PostgreSQL's ``integer``), so the same number fails the same way everywhere.

Services validate their own inputs first; this is the floor under every route, filter and
cursor, including ones added later. Raising here aborts the statement before it is sent, so
the surrounding transaction rolls back and nothing is half-written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any

from sqlalchemy import BigInteger, Engine, Integer, event
from sqlalchemy.types import JSON

from promptvault.errors import InvalidInputError

__all__ = ["check_parameters", "install"]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_SUFFIX = re.compile(r"_\d+$")


def install(engine: Engine) -> None:
    """Check the parameters of every statement ``engine`` runs."""
    event.listen(engine, "before_cursor_execute", _hook)


def _hook(
    _conn: Any,
    _cursor: Any,
    _statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> None:
    if parameters:
        binds = context.compiled.binds if context is not None and context.compiled else {}
        names = context.compiled.positiontup if binds else None
        check_parameters(parameters, binds=binds, positional=names, many=executemany)


def check_parameters(
    parameters: Any,
    *,
    binds: Mapping[str, Any] | None = None,
    positional: Sequence[str] | None = None,
    many: bool = False,
) -> None:
    """Raise InvalidInputError for the first value no database may be given."""
    for row in parameters if many else (parameters,):
        if isinstance(row, Mapping):
            items: Iterable[tuple[str | None, Any]] = row.items()
        elif not isinstance(row, (list, tuple)):  # a batch handed over as one flat row
            items = ((None, row),)
        elif positional is not None and len(positional) == len(row):
            items = zip(positional, row, strict=True)
        else:
            items = zip(repeat(None), row)
        for name, value in items:
            kind = type(value)
            if kind is str:
                _check_text(name, value, binds)
            elif kind is int:
                _check_int(name, value, binds)


def _column_type(name: str | None, binds: Mapping[str, Any] | None) -> Any:
    if name is None or not binds:
        return None
    bind = binds.get(name)
    return getattr(bind, "type", None)


def _field(name: str | None) -> str:
    return _SUFFIX.sub("", name) if name else "value"


def _check_text(name: str | None, value: str, binds: Mapping[str, Any] | None) -> None:
    if "\x00" in value:
        field = _field(name)
        raise InvalidInputError(
            f"{field} contains a NUL character (\\x00), which cannot be stored",
            details={"field": field},
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            field = _field(name)
            raise InvalidInputError(
                f"{field} contains a lone surrogate ({value[exc.start]!r}), which is not text",
                details={"field": field, "offset": exc.start},
            ) from None
    if ("\\ud" in value or "\\uD" in value) and isinstance(_column_type(name, binds), JSON):
        # Rare (escaped surrogates only): decode and re-encode to find a lone one.
        try:
            json.dumps(json.loads(value), ensure_ascii=False).encode("utf-8")
        except (ValueError, UnicodeEncodeError):
            field = _field(name)
            raise InvalidInputError(
                f"{field} contains a lone surrogate escape, which is not text",
                details={"field": field},
            ) from None


def _check_int(name: str | None, value: int, binds: Mapping[str, Any] | None) -> None:
    low, high = _INT64
    column = _column_type(name, binds)
    if isinstance(column, Integer) and not isinstance(column, BigInteger):
        low, high = _INT32
    if not low <= value <= high:
        field = _field(name)
        raise InvalidInputError(
            f"{field} must be from {low} to {high}, got {value}",
            details={"field": field, "value": value},
        )
