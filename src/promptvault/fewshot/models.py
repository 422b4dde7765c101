"""Few-shot values shared by the service, the server and the SDK (pydantic, no I/O).

A :class:`Collection` is what ``vault.examples.get(name)`` returns and what
``GET /v1/collections/{name}`` sends; :class:`ImportReport` is the answer of an import, with
one :class:`RowError` per refused line. :func:`parse_examples_spec` checks the ``examples=``
argument of ``build`` the same way in the Vault and in the SDK.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field

from promptvault.errors import InvalidInputError
from promptvault.templating import compile_template

__all__ = [
    "COLLECTION_NAME",
    "STRATEGIES",
    "Collection",
    "ExamplesSpec",
    "ImportReport",
    "RowError",
    "Strategy",
    "check_collection_name",
    "check_count",
    "check_strategy",
    "check_template",
    "parse_examples_spec",
]

Strategy = Literal["semantic", "mmr", "diverse", "quality", "random"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)

COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
"""Collection names: letters, digits, ``_ . -``; no slash, so a name is one path segment."""


def check_collection_name(name: object, *, field: str = "name") -> str:
    """``name`` when it is a valid collection name, else :class:`InvalidInputError`."""
    if not isinstance(name, str) or not COLLECTION_NAME.match(name):
        raise InvalidInputError(
            f"collection name must be 1..200 letters, digits, '_', '.' or '-' "
            f"starting with a letter or digit, not {name!r}",
            details={"field": field, "value": repr(name)},
        )
    return name


def check_strategy(strategy: Any) -> str:
    """``strategy`` when it is one of :data:`STRATEGIES`."""
    if strategy not in STRATEGIES:
        raise InvalidInputError(
            f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}",
            details={"field": "strategy", "value": repr(strategy)},
        )
    return str(strategy)


def check_count(value: Any, field: str, *, optional: bool) -> int | None:
    """``value`` when it is an integer >= 0 (or None when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(
            f"{field} must be an integer >= 0, not {value!r}",
            details={"field": field, "value": repr(value)},
        )
    return value


def check_template(value: Any, field: str) -> str | None:
    """``value`` when it is None or a Mustache template that compiles."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{field} must be a Mustache template", details={"field": field})
    compile_template(value)  # a syntax error is reported now, with its line and column
    return value


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Collection(_Value):
    """A collection of examples: embedder, format, selection defaults and size.

    ``revision`` changes on every write to the collection or its examples; ``size`` is the
    number of examples. ``prompt`` is the prompt it is attached to, if any: a build of that
    prompt may then name no collection. ``query_template`` is the default Mustache query of
    semantic selection (for example ``{{question}}``).
    """

    name: str
    description: str = ""
    embedder: str
    embedder_spec: str
    dim: int
    example_template: str | None = None
    query_template: str | None = None
    prompt: str | None = None
    strategy: Strategy = "semantic"
    k: int = Field(default=3, ge=0)
    token_budget: int | None = Field(default=None, ge=0)
    revision: int = 1
    size: int = 0
    created_at: datetime
    created_by: str = ""
    updated_at: datetime
    updated_by: str = ""


class RowError(_Value):
    """Why one line of an import was refused; ``line`` is 1-based in the file."""

    line: int
    field: str | None = None
    message: str


class ImportReport(_Value):
    """What an import did: how many rows were read, added, and the refused ones."""

    collection: str
    rows: int
    added: int
    ids: list[int] = Field(default_factory=list)
    errors: list[RowError] = Field(default_factory=list)
    strict: bool = False


class ExamplesSpec(NamedTuple):
    """The checked ``examples=`` argument of a build (None fields: the collection default)."""

    collection: str | None
    strategy: Strategy | None
    k: int | None
    query: str | None
    category: Any
    min_quality: float | None
    metadata: Mapping[str, Any] | None
    token_budget: int | None
    lambda_: float
    seed: int | None


_SPEC_KEYS = frozenset(
    {"collection", "strategy", "k", "query", "filters", "token_budget", "lambda", "seed"}
)
_FILTER_KEYS = frozenset({"category", "min_quality", "metadata"})


def _bad(field: str, message: str, value: Any = None) -> InvalidInputError:
    details: dict[str, Any] = {"field": f"examples.{field}"}
    if value is not None:
        details["value"] = repr(value)
    return InvalidInputError(message, details=details)


def _int_or_none(spec: Mapping[str, Any], key: str) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(key, f"examples.{key} must be an integer", value)
    if value < 0:
        raise _bad(key, f"examples.{key} must be 0 or more, not {value}", value)
    return value


def parse_examples_spec(examples: str | Mapping[str, Any]) -> ExamplesSpec:
    """Check an ``examples=`` value: a collection name, or a mapping of these keys.

    ``collection`` (default: the collection attached to the prompt), ``strategy``, ``k``,
    ``query`` (a Mustache template rendered with the build's variables), ``filters``
    (``category``, ``min_quality``, ``metadata``), ``token_budget``, ``lambda`` (MMR) and
    ``seed`` (random).
    """
    if isinstance(examples, str):
        check_collection_name(examples, field="examples.collection")
        return ExamplesSpec(examples, None, None, None, None, None, None, None, 0.5, None)
    if not isinstance(examples, Mapping):
        raise _bad("", "examples must be a collection name or an object", examples)
    unknown = sorted(set(examples) - _SPEC_KEYS)
    if unknown:
        raise _bad(
            unknown[0],
            f"unknown examples option {unknown[0]!r} (known: {', '.join(sorted(_SPEC_KEYS))})",
        )
    collection = examples.get("collection")
    if collection is not None:
        check_collection_name(collection, field="examples.collection")
    strategy = examples.get("strategy")
    if strategy is not None and strategy not in STRATEGIES:
        raise _bad(
            "strategy", f"examples.strategy must be one of {', '.join(STRATEGIES)}", strategy
        )
    query = examples.get("query")
    if query is not None and not isinstance(query, str):
        raise _bad("query", "examples.query must be a Mustache template string", query)
    filters = examples.get("filters") or {}
    if not isinstance(filters, Mapping):
        raise _bad("filters", "examples.filters must be an object", filters)
    unknown = sorted(set(filters) - _FILTER_KEYS)
    if unknown:
        raise _bad(f"filters.{unknown[0]}", f"unknown filter {unknown[0]!r}")
    min_quality = filters.get("min_quality")
    if min_quality is not None and (
        isinstance(min_quality, bool) or not isinstance(min_quality, (int, float))
    ):
        raise _bad("filters.min_quality", "min_quality must be a number", min_quality)
    metadata = filters.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise _bad("filters.metadata", "the metadata filter must be an object", metadata)
    lam = examples.get("lambda", 0.5)
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0 <= lam <= 1:
        raise _bad("lambda", "examples.lambda must be a number between 0 and 1", lam)
    seed = examples.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _bad("seed", "examples.seed must be an integer", seed)
    return ExamplesSpec(
        collection,
        strategy,
        _int_or_none(examples, "k"),
        query,
        filters.get("category"),
        None if min_quality is None else float(min_quality),
        metadata,
        _int_or_none(examples, "token_budget"),
        float(lam),
        seed,
    )
