"""Waiting in tests: on a condition, with a deadline; never a fixed sleep before an assert."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

# Generous: a loaded CI machine may be slow, and a passing test returns at once anyway.
DEADLINE = 60.0


def wait_until(condition: Callable[[], object], *, what: str, timeout: float = DEADLINE) -> None:
    """Return as soon as ``condition()`` is true; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g}s waiting for {what}"
        time.sleep(0.01)


async def async_wait_until(
    condition: Callable[[], object], *, what: str, timeout: float = DEADLINE
) -> None:
    """:func:`wait_until` for coroutines: yields to the event loop between checks."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g}s waiting for {what}"
        await asyncio.sleep(0.01)
