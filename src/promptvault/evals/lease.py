"""Leases on evaluation runs: which process executes a run, and until when.

The process executing a run holds its lease (``owner``, ``lease_until``) and renews it with
every commit of results, and at least every third of ``eval_lease`` seconds when none come.
A process that dies without finishing the run (SIGKILL, a crash, a lost machine) stops
renewing: once its lease has run out the run reads as ``interrupted`` everywhere, and a
resume may claim it. A claim never succeeds while another process's lease holds, and a
commit that finds its process no longer holds the lease writes nothing, so no case is
recorded twice.
"""

from __future__ import annotations

import os
import secrets
import socket

from promptvault.errors import ConflictError

__all__ = ["lease_lost", "process_owner"]

_OWNERS: dict[int, str] = {}  # by pid: a forked child is a new owner


def process_owner() -> str:
    """This process's name as a lease holder: host, pid and a random tag (a new one after a
    fork, and a restarted process that got the same pid is still someone else)."""
    pid = os.getpid()
    owner = _OWNERS.get(pid)
    if owner is None:
        owner = _OWNERS[pid] = f"{socket.gethostname()[:60]}:{pid}:{secrets.token_hex(6)}"
    return owner


def lease_lost(run_id: str) -> ConflictError:
    """What a run's executor raises when its lease has gone to another process: it stopped
    renewing for longer than the lease (suspended, cut off from the database) and the run
    was resumed elsewhere."""
    return ConflictError(
        f"run {run_id!r} was resumed by another process; this one stops",
        details={"field": "run", "run": run_id},
    )
