"""The base of every JSON request body: unknown fields and lone surrogates are refused.

Python's JSON parser turns ``"\\ud800"`` into a lone surrogate, which is not text: it cannot
be encoded as UTF-8, so a value carrying one into a rendered prompt or an echo fails only
when the answer is serialised (a 500). Refusing it on the way in names the field instead.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from promptvault.entities import refuse_lone_surrogates

__all__ = ["RequestBody", "refuse_lone_surrogates"]


class RequestBody(BaseModel):
    """A JSON request body: extra fields are an error, and so is a lone surrogate anywhere."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _text_only(cls, data: Any) -> Any:
        refuse_lone_surrogates(data)
        return data
