"""Plain-words errors for request bodies that are not the JSON an operation expects.

FastAPI reports a JSON syntax error as ``{"loc": ["body", 15]}`` (a character offset), a
body that is not JSON at all (a form post) as a pydantic message about dictionaries, and
invalid UTF-8 as an undocumented 400. These helpers say what is wrong and where: the line
and column of the syntax error or of the bad byte, or the content type that was sent.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "JSON_TYPES",
    "body_parse_error",
    "is_json_type",
    "json_syntax_error",
    "not_json_error",
    "utf8_error",
]

JSON_TYPES = ("application/json",)
_JSON_KINDS = {
    "list": "an array",
    "str": "a string",
    "int": "a number",
    "float": "a number",
    "bool": "a boolean",
    "NoneType": "null",
}
_NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type", "model_type"})


def is_json_type(content_type: str | None) -> bool:
    """Whether a Content-Type header names JSON (``application/json``, ``...+json``)."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _line_column(text: str | bytes, position: int) -> tuple[int, int]:
    newline: Any = b"\n" if isinstance(text, bytes) else "\n"
    head = text[:position]
    line = head.count(newline) + 1
    column = position - (head.rfind(newline) + 1) + 1
    return line, column


def json_syntax_error(error: dict[str, Any], document: Any) -> tuple[str, dict[str, Any]]:
    """``(message, details)`` for FastAPI's ``json_invalid`` error on ``document``."""
    loc = error.get("loc") or ()
    position = loc[-1] if loc and isinstance(loc[-1], int) else 0
    reason = str((error.get("ctx") or {}).get("error") or "invalid JSON")
    details: dict[str, Any] = {"field": "body", "position": position, "reason": reason}
    if isinstance(document, str | bytes):
        line, column = _line_column(document, position)
        details.update(line=line, column=column)
        where = f"line {line}, column {column}"
    else:
        where = f"character {position}"
    return f"the request body is not valid JSON: {reason} at {where}", details


def not_json_error(
    error: dict[str, Any], content_type: str | None
) -> tuple[str, dict[str, Any]] | None:
    """``(message, details)`` when the body as a whole is wrong (not JSON, not an object,
    missing), else None (errors inside the object keep their field names)."""
    if tuple(error.get("loc") or ()) != ("body",):
        return None
    if error.get("type") == "missing":
        return "the request body is empty: expected a JSON object", {"field": "body"}
    if error.get("type") not in _NOT_AN_OBJECT:
        return None
    if is_json_type(content_type):
        kind = type(error.get("input")).__name__
        return (
            f"the request body must be a JSON object, not {_JSON_KINDS.get(kind, kind)}",
            {"field": "body", "expected": "object"},
        )
    sent = content_type.split(";", 1)[0].strip() if content_type else "no Content-Type"
    return (
        f"expected a JSON body (Content-Type: application/json), got {sent}",
        {"field": "body", "content_type": content_type or "", "expected": "application/json"},
    )


def utf8_error(error: UnicodeDecodeError, body: bytes | None) -> tuple[str, dict[str, Any]]:
    """``(message, details)`` for a body that is not valid UTF-8."""
    position = error.start
    details: dict[str, Any] = {"field": "body", "position": position, "reason": error.reason}
    where = f"byte {position}"
    if body is not None:
        line, column = _line_column(body, position)
        details.update(line=line, column=column)
        where = f"line {line}, column {column} (byte {position})"
    return f"the request body is not valid UTF-8: {error.reason} at {where}", details


def body_parse_error(error: Exception) -> tuple[str, dict[str, Any]]:
    """``(message, details)`` for a JSON body the parser could not finish: nested too
    deeply (RecursionError) or an integer with too many digits (ValueError)."""
    if isinstance(error, RecursionError):
        return (
            "the request body is nested too deeply to parse",
            {"field": "body", "reason": "too_deep"},
        )
    # Python's text ends with advice for the server's programmer ("; use sys...."): cut it.
    reason = str(error).split(";", 1)[0]
    return (
        f"the request body is not valid JSON: {reason}",
        {"field": "body", "reason": "unparsable"},
    )
