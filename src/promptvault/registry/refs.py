"""Names, labels and references (``name``, ``name@staging``, ``name@latest``, ``name@7``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from promptvault.errors import InvalidInputError, LabelInvalidError

__all__ = [
    "DEFAULT_LABEL",
    "LATEST",
    "LABEL_RE",
    "NAME_RE",
    "Ref",
    "check_label",
    "check_name",
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


def check_name(name: object, *, field: str = "name") -> str:
    """Return ``name`` if it is a valid prompt name, else raise InvalidInputError."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or "//" in name:
        raise InvalidInputError(
            f"invalid prompt name {name!r}: use letters, digits, '.', '_', '-' and '/' "
            "(folders), starting with a letter or digit, at most 200 characters",
            details={"field": field, "value": repr(name)},
        )
    if name.endswith("/"):
        raise InvalidInputError(
            f"invalid prompt name {name!r}: it must not end with '/'",
            details={"field": field, "value": name},
        )
    return name


def check_label(label: object, *, field: str = "label", settable: bool = True) -> str:
    """Return ``label`` if valid (and settable: not ``latest``), else raise LabelInvalidError."""
    if not isinstance(label, str) or not LABEL_RE.fullmatch(label):
        raise LabelInvalidError(
            f"invalid label {label!r}: use [a-z][a-z0-9_-]*, at most 64 characters, "
            "starting with a letter (a number would be read as a version)",
            details={"field": field, "value": repr(label)},
        )
    if settable and label == LATEST:
        raise LabelInvalidError(
            "'latest' always points at the newest version and cannot be set",
            details={"field": field, "value": label},
        )
    return label


def parse_ref(ref: str, *, label: str | None = None, version: int | None = None) -> Ref:
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
        if selector.isdigit():
            return _versioned(name, int(selector), ref)
        return Ref(name, label=check_label(selector, field="ref", settable=False))
    if version is not None:
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidInputError("version must be an integer", details={"field": "version"})
        return _versioned(name, version, ref)
    if label is not None:
        return Ref(name, label=check_label(label, settable=False))
    return Ref(name)


def _versioned(name: str, version: int, ref: str) -> Ref:
    if version < 1:
        raise InvalidInputError(
            f"version numbers start at 1, got {version}",
            details={"field": "version", "value": version, "ref": ref},
        )
    return Ref(name, version=version)
