"""Prometheus metrics: request counts and latency histograms per route template, cache hits.

A tiny self-contained implementation of the text exposition format (version 0.0.4): the
server needs three metric families, not a client library. Metrics are per process; with
``--workers N`` each worker reports its own (scrape them through the usual per-pod setup or
sum them).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["BUCKETS", "METHODS", "UNMATCHED", "Metrics", "MetricsMiddleware", "method_label"]

BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)

_DURATION = "promptvault_http_request_duration_seconds"

# Label values come only from these fixed sets, so no request can add a series: any other
# method (HTTP allows any token) counts as ``other``, any path no route matched as
# ``unmatched``.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED = "unmatched"


def method_label(method: str) -> str:
    """The metrics label of an HTTP method: itself when standard, else ``other``."""
    return method if method in METHODS else OTHER_METHOD


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


class _Histogram:
    __slots__ = ("count", "counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, value)] += 1
        self.total += value
        self.count += 1


class Metrics:
    """The counters of one server process.

    Every update happens on the event loop's thread (middleware and async endpoints), so
    plain dict updates are safe and no lock sits on the request path.
    """

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, int], int] = {}
        self._latency: dict[tuple[str, str], _Histogram] = {}
        self._cache: dict[str, int] = {"hit": 0, "miss": 0, "not_modified": 0}
        self._rejected: dict[str, int] = {}
        self._client_dropped = 0
        self.started = time.time()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and its latency."""
        key = (method, route, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        hist = self._latency.get((method, route))
        if hist is None:
            hist = self._latency[(method, route)] = _Histogram()
        hist.observe(seconds)

    def resolve_cache(self, outcome: str) -> None:
        """Count a resolve answered from the cache (``hit``), the database (``miss``) or 304."""
        self._cache[outcome] = self._cache.get(outcome, 0) + 1

    def events_rejected(self, counts: Mapping[str, int]) -> None:
        """Count experiment events ``POST /v1/events`` refused, per reason.

        Reasons are the ingestion's fixed codes (``variant_mismatch``, ``not_exposed``…),
        so the series stay bounded.
        """
        for reason, n in counts.items():
            self._rejected[reason] = self._rejected.get(reason, 0) + n

    def client_dropped(self, n: int) -> None:
        """Count experiment events SDK clients report they lost (their buffer stayed full)."""
        self._client_dropped += n

    def render(self) -> str:
        """The whole exposition text."""
        out: list[str] = []
        out.append("# HELP promptvault_http_requests_total HTTP requests by route and status.")
        out.append("# TYPE promptvault_http_requests_total counter")
        for (method, route, status), n in sorted(self._requests.items()):
            labels = _labels((("method", method), ("route", route), ("status", str(status))))
            out.append(f"promptvault_http_requests_total{labels} {n}")
        out.append("# HELP promptvault_http_request_duration_seconds Request latency by route.")
        out.append("# TYPE promptvault_http_request_duration_seconds histogram")
        for (method, route), hist in sorted(self._latency.items()):
            base = (("method", method), ("route", route))
            cumulative = 0
            for bound, n in zip((*BUCKETS, float("inf")), hist.counts, strict=True):
                cumulative += n
                le = "+Inf" if bound == float("inf") else repr(bound)
                labels = _labels((*base, ("le", le)))
                out.append(f"promptvault_http_request_duration_seconds_bucket{labels} {cumulative}")
            out.append(f"{_DURATION}_sum{_labels(base)} {hist.total!r}")
            out.append(f"{_DURATION}_count{_labels(base)} {hist.count}")
        out.append("# HELP promptvault_resolve_cache_total Resolves by cache outcome.")
        out.append("# TYPE promptvault_resolve_cache_total counter")
        for outcome, n in sorted(self._cache.items()):
            out.append(f'promptvault_resolve_cache_total{{outcome="{outcome}"}} {n}')
        out.append(
            "# HELP promptvault_experiment_events_rejected_total Experiment events refused "
            "at ingestion, by reason."
        )
        out.append("# TYPE promptvault_experiment_events_rejected_total counter")
        for reason, n in sorted(self._rejected.items()):
            labels = _labels((("reason", reason),))
            out.append(f"promptvault_experiment_events_rejected_total{labels} {n}")
        out.append(
            "# HELP promptvault_sdk_events_dropped_total Experiment events SDK clients "
            "reported lost before sending (no room in their buffer in time)."
        )
        out.append("# TYPE promptvault_sdk_events_dropped_total counter")
        out.append(f"promptvault_sdk_events_dropped_total {self._client_dropped}")
        out.append("# HELP promptvault_process_start_time_seconds Start time of the process.")
        out.append("# TYPE promptvault_process_start_time_seconds gauge")
        out.append(f"promptvault_process_start_time_seconds {self.started!r}")
        return "\n".join(out) + "\n"


class MetricsMiddleware:
    """Pure ASGI middleware timing every HTTP request under its route template.

    The template (``/v1/prompts/{name:path}/resolve``), not the raw path, is the label, so
    the number of series stays bounded whatever names clients send; unmatched paths count
    as ``unmatched`` and non-standard methods as ``other``.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None)
            self.metrics.observe(
                method_label(scope.get("method", "GET")),
                str(template) if template else UNMATCHED,
                status,
                time.perf_counter() - start,
            )
