"""Experiments in the SDK without I/O: the event JSON, the calls, the routing cache entry.

Both clients' experiment sides (:mod:`promptvault.client.experiments`,
:mod:`promptvault.client.experiments_async`) build on these; what they do with the network
is written once, async, in ``_routing_async.py`` (the sync copy is generated).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from promptvault.client._api import Call
from promptvault.client._event_buffer import SendFailed
from promptvault.entities import PromptVersion
from promptvault.errors import InvalidInputError, PromptVaultError
from promptvault.experiments.models import Experiment, IngestResult

__all__ = [
    "RETRY_AFTER",
    "RunningEntry",
    "batch_call",
    "exposure_event",
    "outcome_event",
    "running_call",
    "send_failed",
    "variant_version",
]

# After a failed lookup of the running experiment, ask again this soon.
RETRY_AFTER = 1.0


def exposure_event(experiment: str, unit_id: str | None, variant: str | None) -> dict[str, Any]:
    """The JSON of one exposure, stamped now."""
    return {
        "type": "exposure",
        "experiment": experiment,
        "unit_id": unit_id,
        "variant": variant,
        "at": datetime.now(UTC).isoformat(),
    }


def outcome_event(experiment: str, unit_id: str, metric: str, value: float) -> dict[str, Any]:
    """The JSON of one outcome, stamped now; bad values fail here, not in a batch later."""
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError("value must be a finite number", details={"field": "value"})
    if not isinstance(unit_id, str) or not isinstance(metric, str):
        raise InvalidInputError("unit_id and metric must be strings", details={"field": "unit_id"})
    return {
        "type": "outcome",
        "experiment": experiment,
        "unit_id": unit_id,
        "metric": metric,
        "value": float(value),
        "at": datetime.now(UTC).isoformat(),
    }


def batch_call(key: str, events: list[dict[str, Any]], dropped: int = 0) -> Call[IngestResult]:
    """``POST /v1/events`` of one buffered batch (``dropped``: events the client lost since
    its last report, for the server's metrics)."""
    body: dict[str, Any] = {"events": events, "key": key}
    if dropped:
        body["dropped"] = dropped
    return Call(
        "POST",
        "/v1/events",
        IngestResult.model_validate,
        json=body,
        idempotent=True,  # the key makes a repeat harmless
    )


def send_failed(exc: Exception) -> SendFailed:
    """A failed batch send as the event queue wants it: retry only when unreachable."""
    from promptvault.client._core import Unavailable

    if isinstance(exc, Unavailable):
        return SendFailed(exc.reason, retry=True)
    message = exc.message if isinstance(exc, PromptVaultError) else str(exc)
    return SendFailed(message, retry=False)


def variant_version(
    found: PromptVersion, exp: Experiment, variant: str, pinned: PromptVersion
) -> PromptVersion:
    """The variant's pinned version, marked with where it came from."""
    return pinned.model_copy(
        update={"experiment": exp.name, "variant": variant, "resolved_label": found.resolved_label}
    )


class RunningEntry:
    """The experiment running on one (prompt, label), as cached by either SDK client."""

    __slots__ = ("experiment", "expires", "versions")

    def __init__(self, experiment: Experiment | None, expires: float) -> None:
        self.experiment = experiment
        self.expires = expires
        self.versions: dict[str, PromptVersion] = {}


def running_call(prompt: str, label: str | None) -> Call[list[Experiment]]:
    """The call listing running experiments of a prompt."""
    params = {"prompt": prompt} if label is None else {"prompt": prompt, "label": label}
    return Call(
        "GET",
        "/v1/experiments/running",
        lambda data: [Experiment.model_validate(e) for e in data],
        params=params,
    )
