"""Evaluation runs started over HTTP, run in the background of the server process.

``POST /v1/evals/runs`` checks and records the run (``vault.evals.prepare_run``), hands its
model calls to :class:`EvalTasks` and answers 202 at once. The calls run on one event loop
in a thread of their own, so a run at concurrency 32 neither holds a request open nor
competes with request handling on the server's loop. Progress is in the database (results
commit once per 0.1 s slice), so any process reads it with ``GET /v1/evals/runs/{id}``.

When the server stops, :meth:`EvalTasks.shutdown` cancels the runs still going: each
commits the results it has, is marked ``interrupted`` (audited) and can be resumed, by
this server or any other process on the same database. A server killed outright marks
nothing: its runs read as ``interrupted`` once their leases (``eval_lease`` seconds, see
:mod:`promptvault.evals.lease`) run out, and resume the same way.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from promptvault.errors import ConflictError

__all__ = ["EvalTasks"]

logger = logging.getLogger(__name__)


class EvalTasks:
    """The background evaluation runs of one server process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._closed = False

    def running(self) -> set[str]:
        """Ids of the runs this process is executing now."""
        with self._lock:
            return set(self._tasks)

    def check_free(self, run_id: str) -> None:
        """Refuse to resume a run this process is still executing."""
        if run_id in self.running():
            raise ConflictError(
                f"run {run_id!r} is still running; resume it once it is interrupted",
                details={"field": "resume", "run": run_id},
            )

    def start(self, run_id: str, make: Callable[[], Awaitable[Any]]) -> None:
        """Run ``make()`` (the run's model calls) in the background."""
        loop = self._ensure_loop()

        async def body() -> None:
            try:
                await make()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The run's own ``finally`` has marked it interrupted; say why here.
                logger.exception("evaluation run %s stopped with an error", run_id)
            finally:
                with self._lock:
                    self._tasks.pop(run_id, None)

        def spawn() -> None:
            with self._lock:
                self._tasks[run_id] = loop.create_task(body(), name=f"eval-run-{run_id}")

        # Registered before this returns, so a resume right after is refused, not doubled.
        ready: Future[None] = Future()

        def spawn_and_signal() -> None:
            try:
                spawn()
            finally:
                ready.set_result(None)

        loop.call_soon_threadsafe(spawn_and_signal)
        ready.result()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise ConflictError(
                    "the server is shutting down; start the run again later",
                    details={"field": "run"},
                )
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="promptvault-evals", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel the runs still going and wait (up to ``timeout`` seconds) for each to
        commit its results and be marked ``interrupted``; then stop the thread. Runs started
        afterwards (the app served again) get a new one."""
        with self._lock:
            self._closed = True
            loop, thread = self._loop, self._thread
        try:
            if loop is not None and thread is not None:
                self._stop(loop, thread, timeout)
        finally:
            with self._lock:
                self._loop = self._thread = None
                self._closed = False

    def _stop(
        self, loop: asyncio.AbstractEventLoop, thread: threading.Thread, timeout: float
    ) -> None:

        async def cancel_all() -> None:
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)

        try:
            asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(timeout)
        except FutureTimeout:
            logger.error("evaluation runs did not stop within %ss", timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()
