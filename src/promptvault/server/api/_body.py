"""The base of every JSON request body: unknown fields and lone surrogates are refused.

Python's JSON parser turns ``"\\ud800"`` into a lone surrogate, which is not text: it cannot
be encoded as UTF-8, so a value carrying one into a rendered prompt or an echo fails only
when the answer is serialised (a 500). Refusing it on the way in names the field instead.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from promptvault.errors import InvalidInputError

__all__ = ["RequestBody", "refuse_lone_surrogates"]


def _lone_surrogate(text: str) -> int | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def refuse_lone_surrogates(data: Any, prefix: str = "") -> None:
    """Raise InvalidInputError naming the first key or string in ``data`` with a lone
    surrogate. Iterative, so a deeply nested document cannot exhaust the stack."""
    stack: list[tuple[str, Any]] = [(prefix, data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            offset = _lone_surrogate(value)
            if offset is not None:
                field = path or "body"
                raise InvalidInputError(
                    f"{field} contains a lone surrogate ({value[offset]!r}), which is not text",
                    details={"field": field, "offset": offset},
                )
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                child = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and _lone_surrogate(key) is not None:
                    raise InvalidInputError(
                        f"{path or 'body'} has a key with a lone surrogate ({key!r}), "
                        "which is not text",
                        details={"field": path or "body"},
                    )
                stack.append((child, item))
        elif isinstance(value, list):
            items = reversed(list(enumerate(value)))
            stack.extend((f"{path}.{i}" if path else str(i), v) for i, v in items)


class RequestBody(BaseModel):
    """A JSON request body: extra fields are an error, and so is a lone surrogate anywhere."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _text_only(cls, data: Any) -> Any:
        refuse_lone_surrogates(data)
        return data
