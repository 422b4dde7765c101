"""Names, labels and references (``name``, ``name@staging``, ``name@latest``, ``name@7``).

This module is pure (it imports only ``promptvault.errors`` and ``promptvault._values``, no
pydantic) so the registry, the server, the CLI and the SDK share one parser and one set of
name rules: a reference the SDK accepts is exactly one the registry accepts.

A prompt name is a path of segments separated by ``/``; ``.`` and ``..`` segments (and empty
ones) are refused because names become file paths (``promptvault pull`` writes
``prompts/<name>.yaml``). Only ASCII digits make a version number, bounded by what every
database stores in an integer column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from promptvault._values import MAX_INT as MAX_VERSION
from promptvault._values import parse_int
from promptvault.errors import InvalidInputError, LabelInvalidError

__all__ = [
    "DEFAULT_LABEL",
    "LABEL_RE",
    "LATEST",
    "MAX_VERSION",
    "NAME_RE",
    "Ref",
    "check_label",
    "check_name",
    "check_version",
    "is_valid_label",
    "is_valid_name",
    "parse_int",
    "parse_ref",
]

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")
LABEL_RE = re.compile(r"[a-z][a-z0-9_-]{0,63}")
DEFAULT_LABEL = "production"
LATEST = "latest"


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed reference: a prompt name and either a label or a version number."""

    name: str
    label: str | None = None
    version: int | None = None

    @property
    def selector(self) -> str | int:
        """The version number, else the label (``production`` when neither was given)."""
        if self.version is not None:
            return self.version
        return self.label or DEFAULT_LABEL

    def __str__(self) -> str:
        return f"{self.name}@{self.selector}"


def _name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid prompt name (None when it is)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        return (
            "use letters, digits, '.', '_', '-' and '/' (folders), starting with a letter "
            "or digit, at most 200 characters"
        )
    if name.endswith("/"):
        return "it must not end with '/'"
    for segment in name.split("/"):
        if segment in ("", ".", ".."):
            return "every '/'-separated part must be non-empty and not '.' or '..'"
    return None


def is_valid_name(name: object) -> bool:
    """True when ``name`` is a valid prompt name (see :func:`check_name`)."""
    return _name_problem(name) is None


def check_name(name: object, *, field: str = "name") -> str:
    """Return ``name`` if it is a valid prompt name, else raise InvalidInputError."""
    problem = _name_problem(name)
    if problem is not None:
        raise InvalidInputError(
            f"invalid prompt name {_short(name)}: {problem}",
            details={"field": field, "value": _short(name)},
        )
    assert isinstance(name, str)
    return name


def is_valid_label(label: object) -> bool:
    """True when ``label`` has the shape of a label (``latest`` included)."""
    return isinstance(label, str) and LABEL_RE.fullmatch(label) is not None


def check_label(label: object, *, field: str = "label", settable: bool = True) -> str:
    """Return ``label`` if valid (and settable: not ``latest``), else raise LabelInvalidError."""
    if not is_valid_label(label):
        raise LabelInvalidError(
            f"invalid label {label!r}: use [a-z][a-z0-9_-]*, at most 64 characters, "
            "starting with a letter (a number would be read as a version)",
            details={"field": field, "value": repr(label)},
        )
    assert isinstance(label, str)
    if settable and label == LATEST:
        raise LabelInvalidError(
            "'latest' always points at the newest version and cannot be set",
            details={"field": field, "value": label},
        )
    return label


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_version(version: object, *, field: str = "version") -> int:
    """A version number: an int from 1 to :data:`MAX_VERSION`."""
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInputError(
            f"{field} must be an integer >= 1, got {_short(version)}",
            details={"field": field, "value": _short(version)},
        )
    return parse_int(version, field=field, minimum=1)


def parse_ref(ref: object, *, label: str | None = None, version: int | None = None) -> Ref:
    """Parse ``name[@label|@version]``; ``label=``/``version=`` may be given instead of ``@``."""
    if not isinstance(ref, str):
        raise InvalidInputError("a reference must be a string", details={"field": "ref"})
    name, sep, selector = ref.partition("@")
    check_name(name, field="ref")
    if sum(x is not None and x != "" for x in (selector if sep else None, label, version)) > 1:
        raise InvalidInputError(
            f"reference {ref!r} names more than one of @selector, label= and version=",
            details={"field": "ref", "value": ref},
        )
    if sep:
        if not selector:
            raise InvalidInputError(
                f"reference {ref!r} has an empty selector after '@'",
                details={"field": "ref", "value": ref},
            )
        if selector.isdigit() or selector.isdecimal() or selector.isnumeric():
            # ASCII digits are a version; any other digit (², ٣) is neither version nor label.
            return Ref(name, version=_ref_version(selector, ref))
        return Ref(name, label=check_label(selector, field="ref", settable=False))
    if version is not None:
        return Ref(name, version=check_version(version))
    if label is not None:
        return Ref(name, label=check_label(label, settable=False))
    return Ref(name)


def _ref_version(value: object, ref: str) -> int:
    try:
        return parse_int(value, field="version", minimum=1)
    except InvalidInputError as err:
        err.details.setdefault("ref", ref[:250])
        raise
