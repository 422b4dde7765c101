"""Experiments in the SDK: local assignment, buffered events, and the management calls.

``pv.get("support", unit_id="u42")`` resolves the reference as usual, then looks up the
experiment running on that prompt and label (``GET /v1/experiments/running``, cached for
the client's ``cache_ttl`` and refreshed in the background), assigns the unit locally with
:mod:`promptvault.experiments.assignment` (no network call per request), returns the
variant's version (pinned by number, so cached for good) with ``experiment`` and
``variant`` set, and queues an exposure. Outcomes are queued too; both go out in batches
(:mod:`promptvault.client.events`). When the server cannot be reached the unit simply gets
the label's version: an experiment never breaks a request.

``pv.experiments`` also offers the same management methods as ``vault.experiments``
(create, start, ramp, stop, conclude, report, check, list, get, ingest), which the CLI's
remote mode uses.
"""

from __future__ import annotations

import builtins
import math
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from promptvault.client._api import Call
from promptvault.client.events import EventQueue, FlushResult, SendFailed
from promptvault.entities import PromptVersion
from promptvault.errors import InvalidInputError, PromptVaultError
from promptvault.experiments.models import (
    CheckResult,
    Experiment,
    ExperimentReport,
    IngestResult,
)

__all__ = [
    "ClientExperiments",
    "RunningEntry",
    "batch_call",
    "exposure_event",
    "outcome_event",
    "send_failed",
    "variant_version",
]

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


def _path(name: str, *suffix: str) -> str:
    return "/".join(["/v1/experiments", quote(name, safe=""), *suffix])


class RunningEntry:
    """The experiment running on one (prompt, label), as cached by either SDK client."""

    __slots__ = ("experiment", "expires", "versions")

    def __init__(self, experiment: Experiment | None, expires: float) -> None:
        self.experiment = experiment
        self.expires = expires
        self.versions: dict[str, PromptVersion] = {}


class ClientExperiments:
    """The experiment side of :class:`~promptvault.client.PromptVaultClient`."""

    def __init__(
        self,
        client: Any,
        *,
        batch_size: int = 500,
        interval: float = 1.0,
        max_buffer: int = 10_000,
        block_timeout: float = 5.0,
    ) -> None:
        self._client = client
        self._core = client._core
        self.events = EventQueue(
            self._send_batch,
            batch_size=batch_size,
            interval=interval,
            max_buffer=max_buffer,
            block_timeout=block_timeout,
            timeout=max(1.0, float(client.timeout)),
        )
        self._running: dict[tuple[str, str], RunningEntry] = {}
        self._refreshing: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def forget(self, prompt: str, label: str) -> None:
        """A change event touched this prompt's label: route afresh on the next call."""
        self._running.pop((prompt, label), None)

    def after_fork(self) -> None:
        """In a forked child: new locks, no refreshes in flight, an empty event queue."""
        self._lock = threading.Lock()
        self._refreshing = set()
        self.events.after_fork()

    # --- runtime: routing and events -------------------------------------------------

    def _load(self, prompt: str, label: str) -> Experiment | None:
        found = self._client._call(self.running_call(prompt, label))
        return found[0] if found else None

    def _refresh(self, key: tuple[str, str]) -> None:
        now = self._core.now
        try:
            found = self._load(*key)
        except PromptVaultError:
            entry = self._running.get(key)
            if entry is not None:
                entry.expires = now() + min(self._core.cache_ttl, RETRY_AFTER)
        else:
            self._running[key] = RunningEntry(found, now() + self._core.cache_ttl)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def _route_for(self, prompt: str, label: str) -> RunningEntry:
        key = (prompt, label)
        entry = self._running.get(key)
        now = self._core.now()
        if entry is None:
            try:
                found = self._load(prompt, label)
                entry = RunningEntry(found, now + self._core.cache_ttl)
            except PromptVaultError:  # unreachable: no experiment for now, ask again soon
                entry = RunningEntry(None, now + RETRY_AFTER)
            self._running[key] = entry
        elif entry.expires <= now:
            with self._lock:
                start = key not in self._refreshing
                self._refreshing.add(key)
            if start:
                threading.Thread(
                    target=self._refresh, args=(key,), name="promptvault-exp", daemon=True
                ).start()
        return entry

    def route(self, found: PromptVersion, unit_id: Any) -> PromptVersion:
        """``found`` as ``unit_id`` sees it through the running experiment, if any."""
        label = found.resolved_label
        if label is None:
            return found
        entry = self._route_for(found.name, label)
        exp = entry.experiment
        if exp is None:
            return found
        variant = exp.assigner().variant(unit_id)
        if variant is None:
            return found
        result = entry.versions.get(variant)
        if result is None:
            chosen = exp.variant(variant)
            assert chosen is not None
            try:
                pinned = self._client.get(f"{found.name}@{chosen.version}")
            except PromptVaultError:  # the variant cannot be fetched: serve the label
                return found
            result = variant_version(found, exp, variant, pinned)
            entry.versions[variant] = result
        self.events.add(exposure_event(exp.name, unit_id, variant))
        return result

    def record_exposure(
        self, experiment: str, unit_id: str | None, *, variant: str | None = None
    ) -> bool:
        """Queue an exposure (waiting for room in a full buffer); False when it was dropped."""
        return self.events.add(exposure_event(experiment, unit_id, variant))

    def record_outcome(self, experiment: str, unit_id: str, metric: str, value: float) -> bool:
        """Queue an outcome (0/1 for binary metrics); False when it was dropped."""
        return self.events.add(outcome_event(experiment, unit_id, metric, value))

    @property
    def dropped(self) -> int:
        """Events lost so far: no room in time, or recorded after close."""
        return self.events.dropped

    def flush(self) -> FlushResult:
        """Send queued events now: events sent and lost since the last flush, and waiting."""
        return self.events.settle()

    def close(self) -> None:
        """Send what is left and stop the sender thread."""
        self.events.close()

    def _send_batch(self, key: str, events: list[dict[str, Any]], dropped: int = 0) -> Any:
        from promptvault.client._core import ClientCore, Unavailable

        call = batch_call(key, events, dropped)
        try:
            return ClientCore.decode(call, self._client._send(call))
        except (Unavailable, PromptVaultError) as exc:
            raise send_failed(exc) from None

    # --- management ------------------------------------------------------------------

    @staticmethod
    def running_call(prompt: str, label: str | None) -> Call[builtins.list[Experiment]]:
        """The call listing running experiments of a prompt."""
        params = {"prompt": prompt} if label is None else {"prompt": prompt, "label": label}
        return Call(
            "GET",
            "/v1/experiments/running",
            lambda data: [Experiment.model_validate(e) for e in data],
            params=params,
        )

    def _call(self, call: Call[Any]) -> Any:
        return self._client._call(call)

    def _post(self, name: str, verb: str, body: Any = None) -> Experiment:
        return self._call(  # type: ignore[no-any-return]
            Call(
                "POST",
                _path(name, verb),
                Experiment.model_validate,
                json=body,
                idempotent=False,
            )
        )

    def create(self, name: str, **definition: Any) -> Experiment:
        """Create an experiment (same keywords as ``vault.experiments.create``; ``start=True``
        creates and starts it in one transaction)."""
        definition.pop("actor", None)  # the server records the API key's name
        body = {"name": name, **{k: v for k, v in definition.items() if v is not None}}
        for key in ("guardrails", "metrics", "variants"):
            if key in body:
                body[key] = [
                    dict(v) if isinstance(v, Mapping) else v.model_dump() for v in body[key]
                ]
        if "primary_metric" in body and not isinstance(body["primary_metric"], Mapping):
            body["primary_metric"] = body["primary_metric"].model_dump()
        return self._call(  # type: ignore[no-any-return]
            Call("POST", "/v1/experiments", Experiment.model_validate, json=body, idempotent=False)
        )

    def get(self, name: str) -> Experiment:
        """One experiment."""
        return self._call(Call("GET", _path(name), Experiment.model_validate))  # type: ignore[no-any-return]

    def list(
        self, *, prompt: str | None = None, status: str | None = None
    ) -> builtins.list[Experiment]:
        """Experiments newest first."""
        params = {k: v for k, v in {"prompt": prompt, "status": status}.items() if v is not None}
        return self._call(  # type: ignore[no-any-return]
            Call(
                "GET",
                "/v1/experiments",
                lambda data: [Experiment.model_validate(e) for e in data["items"]],
                params=params,
            )
        )

    def running(self, prompt: str, label: str | None = None) -> builtins.list[Experiment]:
        """Running experiments of a prompt."""
        return self._call(self.running_call(prompt, label))  # type: ignore[no-any-return]

    def start(self, name: str, *, actor: str = "", at: datetime | None = None) -> Experiment:
        """Start routing (``at`` backdates the first start, as in the library)."""
        return self._post(name, "start", {"at": at.isoformat()} if at is not None else None)

    def reallocate(self, name: str, *, actor: str = "") -> Experiment:
        """Recompute a running bandit's weights now."""
        return self._post(name, "reallocate")

    def phases(self, name: str) -> builtins.list[dict[str, Any]]:
        """The weights over time, one entry per phase."""
        return self._call(  # type: ignore[no-any-return]
            Call("GET", _path(name, "phases"), list)
        )

    def ramp(
        self, name: str, weights: Mapping[str, float] | Sequence[float], *, actor: str = ""
    ) -> Experiment:
        """Change weights (by variant name, or a list in variant order)."""
        if not isinstance(weights, Mapping):
            names = [v.name for v in self.get(name).variants]
            weights = dict(zip(names, weights, strict=False))
        return self._post(name, "ramp", {"weights": dict(weights)})

    def stop(self, name: str, *, actor: str = "", reason: str = "") -> Experiment:
        """Stop routing."""
        return self._post(name, "stop", {"reason": reason})

    def conclude(self, name: str, winner: str, *, actor: str = "") -> Experiment:
        """Move the label to the winner's version and end the experiment."""
        return self._post(name, "conclude", {"winner": winner})

    def report(
        self, name: str, *, mode: str = "sequential", alpha: float = 0.05
    ) -> ExperimentReport:
        """The experiment's report."""
        return self._call(  # type: ignore[no-any-return]
            Call(
                "GET",
                _path(name, "report"),
                ExperimentReport.model_validate,
                params={"mode": mode, "alpha": alpha},
            )
        )

    def check(self, name: str, *, actor: str = "") -> CheckResult:
        """Run the guardrail and split checks now."""
        return self._call(  # type: ignore[no-any-return]
            Call("POST", _path(name, "check"), CheckResult.model_validate, idempotent=False)
        )

    def check_all(self, *, actor: str = "") -> builtins.list[CheckResult]:
        """:meth:`check` every running experiment."""
        return [self.check(e.name) for e in self.list(status="running")]

    def ingest(
        self, events: Sequence[Mapping[str, Any]], *, key: str | None = None
    ) -> IngestResult:
        """Send one batch now (not through the buffer)."""
        body: dict[str, Any] = {
            "events": [
                {k: v.isoformat() if isinstance(v, datetime) else v for k, v in e.items()}
                for e in events
            ]
        }
        if key is not None:
            body["key"] = key
        return self._call(  # type: ignore[no-any-return]
            Call(
                "POST",
                "/v1/events",
                IngestResult.model_validate,
                json=body,
                idempotent=key is not None,
            )
        )
