"""One BLAS thread for the duration of a single-query search.

A single query is one matrix-vector product of a few milliseconds at most. OpenBLAS splits it
over its thread pool (by default one thread per core); on a machine whose cores are busy
with other work (a server's other requests), the call then waits for a pool thread to be
scheduled, and a 200 µs search becomes milliseconds. With one thread the product runs on the
calling thread and costs the same busy or idle.

:func:`one_blas_thread` limits the BLAS libraries loaded in the process (found by
threadpoolctl) to one thread while at least one search is running, and puts the previous
limit back when the last one ends; the application's own matrix work outside a search keeps
its thread count. OpenBLAS's limit is process-wide, so the scope is counted across threads:
concurrent searches share one limit instead of restoring each other's values.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["blas_threads", "one_blas_thread"]


class _Scope(AbstractContextManager[None]):
    """The process's BLAS libraries and how many searches currently hold them at 1 thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.libs: list[Any] | None = None  # threadpoolctl library controllers
        self.saved: list[int] = []

    def controllers(self) -> list[Any]:
        if self.libs is None:
            from threadpoolctl import ThreadpoolController

            # Scans the loaded shared libraries once (numpy's BLAS is loaded by now).
            self.libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        return self.libs

    def set(self, lib: Any, threads: int) -> None:
        # threadpoolctl (>= 3.6) lets only one "controlling" thread change OpenBLAS's
        # process-wide limit and silently ignores the others. This scope already serialises
        # its changes under its lock, so it takes control for each change and gives it
        # back: whichever thread ends the last search can then restore the limit.
        release = getattr(type(lib), "clear_controlling_thread", None)
        if release is not None:
            release(force=True)
        lib.set_num_threads(threads)
        if release is not None:
            release(force=True)

    def __enter__(self) -> None:
        with self.lock:
            if self.depth == 0:
                libs = self.controllers()
                self.saved = [int(lib.get_num_threads() or 1) for lib in libs]
                for lib, threads in zip(libs, self.saved, strict=True):
                    if threads != 1:
                        self.set(lib, 1)
            self.depth += 1

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth == 0 and self.libs is not None:
                for lib, threads in zip(self.libs, self.saved, strict=True):
                    if threads != 1:
                        self.set(lib, threads)


_SCOPE = _Scope()


def one_blas_thread() -> AbstractContextManager[None]:
    """``with one_blas_thread():`` runs the block with every loaded BLAS library limited to
    one thread (re-entrant, and shared by concurrent blocks in other threads)."""
    return _SCOPE


def blas_threads() -> list[tuple[str, int]]:
    """``(library, threads)`` for each BLAS library loaded (for benchmarks and diagnostics)."""
    return [
        (f"{lib.internal_api} {lib.version}", int(lib.get_num_threads() or 1))
        for lib in _SCOPE.controllers()
    ]
