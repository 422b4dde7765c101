"""Coroutines run to completion from synchronous code: ``vault.evals.run`` and the
playground's one call are ``async`` inside and blocking outside."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

__all__ = ["blocking", "run_sync"]

T = TypeVar("T")
P = ParamSpec("P")


def blocking(fn: Callable[P, Coroutine[Any, Any, T]], name: str) -> Callable[P, T]:
    """``fn`` as a function that runs it to completion (see :func:`run_sync`)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(fn(*args, **kwargs))

    wrapper.__name__ = name
    wrapper.__qualname__ = fn.__qualname__.rsplit(".", 1)[0] + "." + name
    return wrapper


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code, even inside a running event loop
    (a notebook): there it gets a loop of its own in a thread."""
    box: dict[str, Any] = {}

    async def main() -> None:
        # The value goes in the box, not out as the task's result: ``asyncio.run`` on the
        # main thread puts the task in its SIGINT handler, and restoring the old handler
        # formats that handler's repr, with the task's result (a run of thousands of
        # results) in it.
        box["value"] = await coro

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(main())
        return box["value"]  # type: ignore[no-any-return]

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="promptvault-eval")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]
