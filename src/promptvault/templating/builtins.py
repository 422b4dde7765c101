"""The variables every template sees without being given them: ``now`` and ``today``.

One definition for every path that renders (``Vault.render``, ``vault.build``, the CLI's
``render`` and ``check``, the SDK, the server and the UI's preview and playground): ``now`` is
ISO 8601 with its offset, to the second, and ``today`` is ``YYYY-MM-DD``, both in the
configured time zone (``Settings.timezone``). Variables the caller passes win over built-ins
of the same name, so a template can be rendered "as of" a given date. Built-ins never count as
undeclared or missing variables.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from promptvault.errors import InvalidInputError

__all__ = ["BUILTIN_NAMES", "Builtins", "zone"]

BUILTIN_NAMES = frozenset({"now", "today"})


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """The time zone called ``name``; an unknown name is ``invalid_input``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(
            f"unknown time zone {name!r}", details={"field": "timezone", "value": name}
        ) from exc


class Builtins:
    """The built-in values in one time zone; the clock is read at most once a second."""

    def __init__(self, timezone: str = "UTC") -> None:
        self.timezone = timezone
        self._tz = zone(timezone)
        self._live: tuple[int, str, str] = (-1, "", "")

    def values(self, now: datetime | None = None) -> tuple[str, str]:
        """``(now, today)`` for the wall clock, or for ``now`` (naive = wall time here)."""
        if now is None:
            second = int(time.time())
            live = self._live
            if live[0] != second:
                stamp = datetime.fromtimestamp(second, self._tz).isoformat(timespec="seconds")
                self._live = live = (second, stamp, stamp[:10])
            return live[1], live[2]
        stamp = self.stamp(now)
        return stamp, stamp[:10]

    def stamp(self, now: datetime) -> str:
        """``now`` as ISO 8601 in this zone, to the second."""
        if not isinstance(now, datetime):
            raise InvalidInputError(
                f"now must be a datetime, not {type(now).__name__}", details={"field": "now"}
            )
        clock = now.replace(tzinfo=self._tz) if now.tzinfo is None else now.astimezone(self._tz)
        return clock.isoformat(timespec="seconds")

    def add(self, variables: Mapping[str, Any] | None, now: datetime | None = None) -> Any:
        """``variables`` with the built-ins under them (the caller's values win)."""
        stamp, today = self.values(now)
        if variables and "now" in variables and "today" in variables:
            return variables
        data: dict[str, Any] = {"now": stamp, "today": today}
        if variables:
            data.update(variables)
        return data
