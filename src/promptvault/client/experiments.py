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
(create, start, ramp, stop, conclude, report, check, list, get, running, ingest), which the
CLI's remote mode uses.

Routing and events are written once for both clients (``_routing_async.py``, the sync copy
generated); this module adds what only the sync client does: its background lookups run in
threads, and the management calls.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from promptvault.client._api import Call
from promptvault.client._routing import running_call
from promptvault.client._routing_sync import ExperimentRouting
from promptvault.experiments.models import (
    CheckResult,
    Experiment,
    ExperimentReport,
    IngestResult,
)

__all__ = ["ClientExperiments"]


def _path(name: str, *suffix: str) -> str:
    return "/".join(["/v1/experiments", quote(name, safe=""), *suffix])


class ClientExperiments(ExperimentRouting):
    """The experiment side of :class:`~promptvault.client.PromptVaultClient`."""

    running_call = staticmethod(running_call)

    def _refresh_later(self, key: tuple[str, str]) -> None:
        threading.Thread(
            target=self._refresh, args=(key,), name="promptvault-exp", daemon=True
        ).start()

    def close(self) -> None:
        """Send what is left and stop the sender thread."""
        self.events.close()

    # --- management ------------------------------------------------------------------

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
