"""REST routers, one module per noun; ``ROUTERS`` is the order the app mounts them in.

Order matters: prompt names may contain slashes (``{name:path}``), so the routes ending in a
fixed suffix (``/resolve``, ``/versions``, ``/labels/...``, ``/diff``) come before the plain
``/v1/prompts/{name}`` routes that would otherwise swallow them.
"""

from __future__ import annotations

from fastapi import APIRouter

from promptvault.server.api import (
    audit,
    collections,
    datasets,
    diff,
    evals,
    events,
    experiments,
    health,
    keys,
    labels,
    langfuse,
    prompts,
    render,
    requests,
    stream,
    versions,
    webhooks,
)

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    render.router,
    versions.router,
    labels.router,
    diff.router,
    audit.router,
    events.router,
    stream.router,
    keys.router,
    webhooks.router,
    requests.router,
    requests.comments_router,
    experiments.router,
    experiments.events_router,
    collections.build_router,
    collections.router,
    datasets.router,
    evals.router,
    langfuse.router,
    prompts.router,  # last: GET/DELETE /v1/prompts/{name:path} match any suffix
)
