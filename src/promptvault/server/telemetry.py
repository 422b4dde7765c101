"""FastAPI's request telemetry in a serving process: only the signals it has a provider for.

FastAPI traces each request, and records its metrics and failure logs, through the global
OpenTelemetry providers, and looks all three up on every request to see whether any is
configured. With none configured (the usual case), each lookup reads the process
environment, where a provider may be named: together several microseconds per request,
as much as promptvault's whole resolve answer.

A ``promptvault serve`` worker has its providers before its first request or never: from
the environment (``OTEL_PYTHON_TRACER_PROVIDER``...), from ``opentelemetry-instrument``
(which sets them as the interpreter starts), or from FastAPI itself at startup
(``FASTAPI_OTEL_AUTO_CONFIGURE=true``, which then keeps FastAPI's defaults). So the
worker's app (``create_app_from_env``) turns off, when it is built, tracing and metrics
when they have no provider, and FastAPI's per-request check reads those settings instead
(logs keep FastAPI's per-request check: see :func:`serving_telemetry`). An app made with
``create_app`` keeps FastAPI's defaults: a provider configured after it still counts.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from fastapi.telemetry import TelemetryConfig

__all__ = ["serving_telemetry"]

# What the OpenTelemetry API hands out while nothing is configured, and its explicit no-ops:
# FastAPI records nothing through either.
_NOTHING = frozenset(
    {
        "ProxyTracerProvider",
        "NoOpTracerProvider",
        "_ProxyMeterProvider",
        "NoOpMeterProvider",
    }
)


def _configured(provider: Any) -> bool:
    return type(provider).__name__ not in _NOTHING


def serving_telemetry() -> TelemetryConfig:
    """FastAPI's ``telemetry`` settings for a serving process, decided now (see above)."""
    if os.environ.get("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true":
        return {}  # FastAPI configures the providers at startup: its defaults stay
    if importlib.util.find_spec("opentelemetry") is None:
        return {}
    from opentelemetry import metrics, trace

    # Logs keep FastAPI's default: OpenTelemetry's logs API is still an experimental,
    # private module (``opentelemetry._logs``), and promptvault uses public APIs only.
    return {
        "tracing": _configured(trace.get_tracer_provider()),
        "metrics": _configured(metrics.get_meter_provider()),
    }
