"""Checks a push must pass before anything is written, and the content hash.

Everything here is pure: a push is validated and hashed outside the write transaction, so a
rejected push never touches the database.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from promptvault._values import JSON_MAX_BYTES, canonical_json, check_json_bounds, check_text
from promptvault.errors import InvalidInputError, TemplateError
from promptvault.registry.refs import check_label
from promptvault.templating import compile_chat, compile_template
from promptvault.templating.base import Limits, PartialSource
from promptvault.templating.variables import (
    check_template_fits_schema,
    validate_variables_schema,
)

__all__ = [
    "CheckedPush",
    "check_config",
    "check_push",
    "check_schema",
    "compile_content",
    "content_hash",
]

_SYNTAXES = ("mustache", "jinja", "langfuse")
_TYPES = ("text", "chat")
_TAG_MAX = 100


def content_hash(
    *,
    template: str | list[dict[str, Any]],
    syntax: str,
    type: str,
    config: Mapping[str, Any],
    variables_schema: Mapping[str, Any] | None,
) -> str:
    """sha256 of the canonical JSON of everything that defines what a version renders."""
    body = {
        "template": template,
        "syntax": syntax,
        "type": type,
        "config": dict(config),
        "variables_schema": dict(variables_schema) if variables_schema is not None else None,
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class CheckedPush:
    """A push that passed every check, normalised and hashed."""

    template: str | list[dict[str, Any]]
    syntax: str
    type: str
    config: dict[str, Any]
    variables_schema: dict[str, Any] | None
    hash: str
    tags: tuple[str, ...]
    labels: tuple[str, ...]


def _json_clean(value: Any, field: str, *, max_bytes: int = JSON_MAX_BYTES) -> Any:
    """A plain-JSON copy of ``value``, bounded in depth and size (checked first, iteratively)."""
    return json.loads(check_json_bounds(value, field, max_bytes=max_bytes))


def check_config(config: object) -> dict[str, Any]:
    """Model config: any JSON object; ``temperature`` 0..2, ``max_tokens`` an int >= 1."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise InvalidInputError("config must be an object", details={"field": "config"})
    for key in config:
        if not isinstance(key, str):
            raise InvalidInputError(
                f"config keys must be strings, got {key!r}", details={"field": "config"}
            )
    clean: dict[str, Any] = _json_clean(dict(config), "config")
    temp = clean.get("temperature")
    if temp is not None and (
        isinstance(temp, bool)
        or not isinstance(temp, (int, float))
        or not math.isfinite(temp)
        or not 0 <= temp <= 2
    ):
        raise InvalidInputError(
            f"config.temperature must be a number from 0 to 2, got {temp!r}",
            details={"field": "config.temperature", "value": temp},
        )
    max_tokens = clean.get("max_tokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise InvalidInputError(
            f"config.max_tokens must be an integer >= 1, got {max_tokens!r}",
            details={"field": "config.max_tokens", "value": max_tokens},
        )
    model = clean.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidInputError(
            "config.model must be a string", details={"field": "config.model", "value": model}
        )
    return clean


def check_schema(schema: object) -> dict[str, Any] | None:
    """A variables schema must be a valid JSON Schema object (or None)."""
    if schema is None:
        return None
    if not isinstance(schema, Mapping):
        raise InvalidInputError(
            "variables_schema must be a JSON Schema object", details={"field": "variables_schema"}
        )
    clean: dict[str, Any] = _json_clean(dict(schema), "variables_schema")
    return dict(validate_variables_schema(clean))


def compile_content(
    template: str | list[dict[str, Any]],
    *,
    type: str,
    syntax: str,
    partials: PartialSource | None = None,
    limits: Limits | None = None,
) -> Any:
    """Compile a text or chat template (a Template or ChatTemplate)."""
    if type == "chat":
        assert isinstance(template, list)
        return compile_chat(
            template,
            syntax=syntax,  # type: ignore[arg-type]
            partials=partials,
            limits=limits,
        )
    assert isinstance(template, str)
    return compile_template(
        template,
        syntax=syntax,  # type: ignore[arg-type]
        partials=partials,
        limits=limits,
    )


def check_push(
    *,
    template: object,
    syntax: object,
    type: object,
    config: object,
    variables_schema: object,
    tags: object,
    labels: object,
    partials: Callable[[str], str | None] | None = None,
    limits: Limits | None = None,
) -> CheckedPush:
    """Validate and normalise a push; raise the precise error for the first problem found."""
    if syntax not in _SYNTAXES:
        raise InvalidInputError(
            f"unknown template syntax {syntax!r}: use 'mustache', 'jinja' or 'langfuse'",
            details={"field": "syntax", "value": repr(syntax)},
        )
    if type is None:
        type = "chat" if isinstance(template, list) else "text"
    if type not in _TYPES:
        raise InvalidInputError(
            f"unknown prompt type {type!r}: use 'text' or 'chat'",
            details={"field": "type", "value": repr(type)},
        )
    if type == "text" and not isinstance(template, str):
        raise InvalidInputError(
            "a text prompt's template must be a string", details={"field": "template"}
        )
    if type == "chat" and not isinstance(template, list):
        raise InvalidInputError(
            "a chat prompt's template must be a list of messages", details={"field": "template"}
        )
    # The template's size is bounded by the engine's source limit, not the JSON one.
    clean_template = _json_clean(template, "template", max_bytes=sys.maxsize)
    clean_config = check_config(config)
    schema = check_schema(variables_schema)
    try:
        compiled = compile_content(
            clean_template, type=str(type), syntax=str(syntax), partials=partials, limits=limits
        )
    except TemplateError as err:
        err.details.setdefault("field", "template")
        raise
    if schema is not None:
        check_template_fits_schema(compiled, schema)
    clean_tags = _check_tags(tags)
    clean_labels = tuple(
        dict.fromkeys(check_label(lab, field="labels") for lab in _as_list(labels, "labels"))
    )
    digest = content_hash(
        template=clean_template,
        syntax=str(syntax),
        type=str(type),
        config=clean_config,
        variables_schema=schema,
    )
    return CheckedPush(
        template=clean_template,
        syntax=str(syntax),
        type=str(type),
        config=clean_config,
        variables_schema=schema,
        hash=digest,
        tags=clean_tags,
        labels=clean_labels,
    )


def _as_list(value: object, field: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
        raise InvalidInputError(f"{field} must be a list of strings", details={"field": field})
    return list(value)


def _check_tags(tags: object) -> tuple[str, ...]:
    out = []
    for tag in _as_list(tags, "tags"):
        if not isinstance(tag, str) or not tag.strip() or len(tag) > _TAG_MAX:
            raise InvalidInputError(
                f"tags must be non-empty strings of at most {_TAG_MAX} characters, got {tag!r}",
                details={"field": "tags", "value": repr(tag)},
            )
        check_text(tag, "tags")
        out.append(tag.strip())
    return tuple(sorted(set(out)))
