"""Checking an experiment definition before it is stored (no I/O but version lookups)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from promptvault.entities import PromptRef, parse_int
from promptvault.errors import InvalidInputError, VersionNotFound
from promptvault.experiments.assignment import Assigner
from promptvault.experiments.models import (
    EXPERIMENT_NAME,
    Event,
    Guardrail,
    Metric,
    Variant,
    check_floor,
)
from promptvault.storage.unit_of_work import PromptRepository

__all__ = ["check_definition", "parse_events", "parse_value", "version_number"]

_EVENTS: TypeAdapter[list[Event]] = TypeAdapter(list[Event])

_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_UNIT_TYPES = ("user", "session", "request")


def parse_value(cls: type[BaseModel], value: Any, field: str) -> Any:
    """``cls`` from ``value``; a validation error names the field it happened in."""
    if isinstance(value, cls):
        return value
    try:
        return cls.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        path = f"{field}.{where}" if where else field
        raise InvalidInputError(f"{path}: {first['msg']}", details={"field": path}) from None


def parse_events(events: Sequence[Any]) -> list[Event]:
    """Events from Event values or dicts, validated as one list (much cheaper per event)."""
    if all(isinstance(e, Event) for e in events):
        return list(events)
    try:
        return _EVENTS.validate_python(list(events))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = list(first["loc"])
        where = f"events[{loc[0]}]" + "".join(f".{p}" for p in loc[1:]) if loc else "events"
        raise InvalidInputError(f"{where}: {first['msg']}", details={"field": where}) from None


def _variant_spec(value: Any, i: int) -> dict[str, Any]:
    field = f"variants[{i}]"
    if isinstance(value, Variant):
        return value.model_dump()
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{field} must be an object", details={"field": field})
    unknown = set(value) - {"name", "version", "weight"}
    if unknown:
        raise InvalidInputError(
            f"{field} has unknown keys {sorted(unknown)}", details={"field": field}
        )
    version = value.get("version")
    if isinstance(version, bool) or not isinstance(version, int | str):
        raise InvalidInputError(
            f"{field}.version must be a version number or a label",
            details={"field": f"{field}.version"},
        )
    checked = parse_value(
        Variant,
        {"name": value.get("name"), "version": 1, "weight": value.get("weight", 1.0)},
        field,
    )
    return {"name": checked.name, "version": version, "weight": checked.weight}


def check_definition(
    name: Any,
    *,
    variants: Any,
    primary_metric: Any,
    label: Any,
    coverage: Any,
    unit_type: Any,
    seed: Any,
    guardrails: Sequence[Any],
    metrics: Sequence[Any],
    description: Any,
    allocation: Any = "fixed",
    floor: Any = 0.05,
) -> dict[str, Any]:
    """The checked definition as column values (variant versions still unresolved)."""
    if not isinstance(name, str) or not EXPERIMENT_NAME.match(name):
        raise InvalidInputError(
            f"experiment name {name!r} must match [a-z0-9][a-z0-9_.-]* (at most 100)",
            details={"field": "name"},
        )
    if not isinstance(label, str) or not _LABEL.match(label) or label == "latest":
        raise InvalidInputError(
            f"label {label!r} must be a label name other than latest",
            details={"field": "label"},
        )
    if unit_type not in _UNIT_TYPES:
        raise InvalidInputError(
            f"unit_type must be one of {', '.join(_UNIT_TYPES)}, not {unit_type!r}",
            details={"field": "unit_type"},
        )
    if isinstance(coverage, bool) or not isinstance(coverage, int | float):
        raise InvalidInputError(
            "coverage must be a number in (0, 1]", details={"field": "coverage"}
        )
    if not 0.0 < coverage <= 1.0:
        raise InvalidInputError(
            "coverage must be a number in (0, 1]", details={"field": "coverage"}
        )
    seed = name if seed is None else seed
    if not isinstance(seed, str) or not seed or len(seed) > 200:
        raise InvalidInputError("seed must be 1..200 characters", details={"field": "seed"})
    primary = parse_value(Metric, primary_metric, "primary_metric")
    guards = [parse_value(Guardrail, g, f"guardrails[{i}]") for i, g in enumerate(guardrails)]
    others = [parse_value(Metric, m, f"metrics[{i}]") for i, m in enumerate(metrics)]
    names = [m.name for m in (primary, *guards, *others)]
    if len(set(names)) != len(names):
        raise InvalidInputError("metric names must be unique", details={"field": "metrics"})
    if isinstance(variants, str | bytes) or not isinstance(variants, Sequence):
        raise InvalidInputError("variants must be a list", details={"field": "variants"})
    raw = [_variant_spec(v, i) for i, v in enumerate(variants)]
    if len(raw) < 2:
        raise InvalidInputError(
            "an experiment needs at least two variants", details={"field": "variants"}
        )
    # Builds the bucket layout: rejects duplicate names and unusable weights.
    Assigner(seed, [v["name"] for v in raw], [v["weight"] for v in raw], coverage=coverage)
    if not isinstance(description, str) or len(description) > 2000:
        raise InvalidInputError(
            "description must be a string of at most 2000 characters",
            details={"field": "description"},
        )
    if allocation not in ("fixed", "bandit"):
        raise InvalidInputError(
            f"allocation must be fixed or bandit, not {allocation!r}",
            details={"field": "allocation"},
        )
    floor = check_floor(floor, len(raw))
    return {
        "allocation": allocation,
        "floor": floor,
        "label": label,
        "unit_type": unit_type,
        "coverage": float(coverage),
        "seed": seed,
        "primary_metric": primary.model_dump(),
        "guardrails": [g.model_dump() for g in guards],
        "metrics": [m.model_dump() for m in others],
        "description": description,
        "variants": raw,
    }


def version_number(prompts: PromptRepository, prompt: PromptRef, version: int | str, i: int) -> int:
    """A variant's version as a number: given, or where a label (or ``latest``) points now."""
    field = f"variants[{i}].version"
    # Any digit makes a number (ASCII digits only, within range) or an invalid_input.
    numeric = isinstance(version, int) or (isinstance(version, str) and version[:1].isdigit())
    if numeric and not isinstance(version, bool):
        version = parse_int(version, field=field, minimum=1)
    if isinstance(version, int):
        if not prompts.has_version(prompt.id, version):
            raise VersionNotFound(
                f"prompt {prompt.name!r} has no version {version}",
                details={"field": field, "name": prompt.name, "version": version},
            )
        return version
    if version == "latest":
        if not prompt.latest_version:
            raise VersionNotFound(
                f"prompt {prompt.name!r} has no versions", details={"field": field}
            )
        return int(prompt.latest_version)
    labels = prompts.labels(prompt.id)
    if version not in labels:
        raise VersionNotFound(
            f"prompt {prompt.name!r} has no label {version!r}",
            details={"field": field, "name": prompt.name, "label": version},
        )
    return labels[version]
