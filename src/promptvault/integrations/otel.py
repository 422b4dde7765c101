"""OpenTelemetry spans for resolve, render and build (extra ``otel``).

With ``opentelemetry-api`` installed, a ``Vault`` and the SDK clients emit one span per
``get`` (``promptvault.resolve``), ``render`` (``promptvault.render``) and ``build``
(``promptvault.build``); the server's HTTP spans are FastAPI's own (it traces every request
when the API is installed), with the Vault's spans inside them. Spans go to whatever tracer
provider the application set up (its OTLP exporter, sampling, resource); promptvault only
uses the API. Without the package nothing is imported and the methods are the plain ones:
:func:`instrument` replaces them on the instance only when the application has set a tracer
provider before making the Vault or client, so an application that does not trace pays
nothing, not even a flag check per call.

Spans are made only when one would be seen, and every check is cheap, cheapest first:

- the tracer provider has a span processor (an exporter): an SDK provider set up without
  one records nothing anywhere, so no span is made (one attribute read per call; a
  processor added later is seen at once);
- the call runs inside a trace the application is recording (a request span, its own LLM
  call's span): a resolve outside any trace, or in a trace sampled out, is not worth a root
  span of its own (one context lookup);
- it is not already inside a promptvault span: ``build`` resolves through ``get``, and the
  build span already carries the version's attributes, so one call is one span.

Attributes are made only for a span that is recording: the reference's at its start (for
samplers), the resolved version's at its end (only those the start did not already set).

Attributes follow the OpenTelemetry GenAI conventions where they name the thing
(``gen_ai.prompt.name``, ``gen_ai.request.model``); the rest are ``promptvault.*``:
``promptvault.prompt.version``, ``.label``, ``.hash``, ``promptvault.experiment`` and
``promptvault.variant``. ``BuiltRequest.metadata.otel_attributes()`` gives the same
attributes for an application's own LLM span.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from promptvault.entities import PromptVersion

__all__ = ["instrument", "tracer", "version_attributes"]

_UNSET: Any = object()
_tracer: Any = _UNSET
_current_span: Any = None  # opentelemetry.trace.get_current_span, bound on first lookup
# Set while a promptvault span is open in this context: nested calls make none of their own.
_INSIDE: ContextVar[bool] = ContextVar("promptvault_otel_inside", default=False)


def tracer() -> Any | None:
    """promptvault's tracer, or None when OpenTelemetry is not installed (looked up once)."""
    global _tracer, _current_span  # noqa: PLW0603 - one lookup per process
    if _tracer is _UNSET:
        if importlib.util.find_spec("opentelemetry") is None:
            _tracer = None
        else:
            from opentelemetry import trace

            _current_span = trace.get_current_span
            _tracer = trace.get_tracer("promptvault")
    return _tracer


def tracing_configured() -> bool:
    """Whether the application has set a tracer provider (not the API's default no-op).

    The OpenTelemetry API is often installed as another package's dependency in processes
    that never trace; wrapping their calls would cost a context lookup each for nothing.
    """
    if tracer() is None:
        return False
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    return type(provider).__name__ not in {"ProxyTracerProvider", "NoOpTracerProvider"}


def version_attributes(version: PromptVersion) -> dict[str, Any]:
    """The span attributes of a resolved version."""
    out: dict[str, Any] = {
        "gen_ai.prompt.name": version.name,
        "promptvault.prompt.version": version.version,
        "promptvault.prompt.hash": version.hash,
    }
    if version.resolved_label:
        out["promptvault.prompt.label"] = version.resolved_label
    if version.experiment:
        out["promptvault.experiment"] = version.experiment
    if version.variant:
        out["promptvault.variant"] = version.variant
    model = version.config.get("model") if isinstance(version.config, dict) else None
    if isinstance(model, str):
        out["gen_ai.request.model"] = model
    return out


def _ref_attributes(ref: Any) -> dict[str, Any]:
    if not isinstance(ref, str):
        return {}
    name, _, pin = ref.partition("@")
    out: dict[str, Any] = {"gen_ai.prompt.name": name}
    if pin.isascii() and pin.isdigit() and len(pin) <= 18:  # "²" is a digit, not a number
        out["promptvault.prompt.version"] = int(pin)
    elif pin:
        out["promptvault.prompt.label"] = pin
    return out


def _result_attributes(operation: str, result: Any, started: dict[str, Any]) -> dict[str, Any]:
    """What the answer adds to the span: the resolved version's attributes, less those the
    span already has from the reference (equal values are not set twice)."""
    if operation == "resolve" and isinstance(result, PromptVersion):
        out = version_attributes(result)
    else:
        metadata = getattr(result, "metadata", None)
        if operation != "build" or metadata is None:
            return {}
        out = metadata.otel_attributes()
        model = getattr(result, "model", None)
        if isinstance(model, str):
            out["gen_ai.request.model"] = model
    for key, value in started.items():
        if out.get(key) == value:
            del out[key]
    return out


def _processors(trace_to: Any) -> Any | None:
    """The SDK tracer's span processors, whose ``_span_processors`` tuple the provider
    replaces when one is added (empty: no span would reach anything); None for a tracer
    of another implementation, which is always traced."""
    active = getattr(trace_to, "span_processor", None)
    return active if hasattr(active, "_span_processors") else None


def _wrap(trace_to: Any, operation: str, call: Callable[..., Any]) -> Callable[..., Any]:
    name = f"promptvault.{operation}"
    current = _current_span
    inside = _INSIDE
    active = _processors(trace_to)

    @functools.wraps(call)
    def traced(ref: Any, *args: Any, **kwargs: Any) -> Any:
        if (
            (active is not None and not active._span_processors)
            or not current().is_recording()
            or inside.get()
        ):
            return call(ref, *args, **kwargs)
        started = _ref_attributes(ref)
        span = trace_to.start_span(name, attributes=started)
        token = inside.set(True)
        try:
            result = call(ref, *args, **kwargs)
        except BaseException as exc:
            span.record_exception(exc)
            span.set_attribute("error.type", type(exc).__name__)
            span.end()
            raise
        finally:
            inside.reset(token)
        if span.is_recording():
            span.set_attributes(_result_attributes(operation, result, started))
        span.end()
        return result

    return traced


def _wrap_async(trace_to: Any, operation: str, call: Callable[..., Any]) -> Callable[..., Any]:
    name = f"promptvault.{operation}"
    current = _current_span
    inside = _INSIDE
    active = _processors(trace_to)

    @functools.wraps(call)
    async def traced(ref: Any, *args: Any, **kwargs: Any) -> Any:
        if (
            (active is not None and not active._span_processors)
            or not current().is_recording()
            or inside.get()
        ):
            return await call(ref, *args, **kwargs)
        started = _ref_attributes(ref)
        span = trace_to.start_span(name, attributes=started)
        token = inside.set(True)
        try:
            result = await call(ref, *args, **kwargs)
        except BaseException as exc:
            span.record_exception(exc)
            span.set_attribute("error.type", type(exc).__name__)
            span.end()
            raise
        finally:
            inside.reset(token)
        if span.is_recording():
            span.set_attributes(_result_attributes(operation, result, started))
        span.end()
        return result

    return traced


_OPERATIONS = (("get", "resolve"), ("render", "render"), ("build", "build"))


def instrument(obj: Any, *, is_async: bool = False) -> None:
    """Trace ``obj.get``, ``obj.render`` and ``obj.build`` when the application has set up
    OpenTelemetry (a tracer provider) before making ``obj``."""
    if not tracing_configured():
        return
    trace_to = tracer()
    wrap = _wrap_async if is_async else _wrap
    for method, operation in _OPERATIONS:
        setattr(obj, method, wrap(trace_to, operation, getattr(obj, method)))
