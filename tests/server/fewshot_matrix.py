"""Few-shot and build endpoints for the endpoint x role matrix in ``test_server_auth.py``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from promptvault.errors import CollectionNotFound
from promptvault.server.auth import Permission

COLLECTION = "matrix_faq"


def _ensure(w: Any) -> str:
    try:
        w.vault.examples.get(COLLECTION)
    except CollectionNotFound:
        w.vault.examples.create(COLLECTION, actor="setup")
        w.vault.examples.add(COLLECTION, "Where is my parcel?", "Track it.", actor="setup")
    return f"/v1/collections/{COLLECTION}"


def _fresh_collection(w: Any) -> str:
    name = f"tmp-{uuid.uuid4().hex[:8]}"
    w.vault.examples.create(name, actor="setup")
    return f"/v1/collections/{name}"


def _fresh_example(w: Any) -> str:
    base = _ensure(w)
    example = w.vault.examples.add(COLLECTION, f"q {uuid.uuid4().hex}", "a", actor="setup")
    return f"{base}/examples/{example.id}"


def _under(suffix: str) -> Callable[[Any], str]:
    return lambda w: _ensure(w) + suffix


def fewshot_endpoints(endpoint: Any, prompt: str) -> list[Any]:
    """The endpoints of ``server/api/collections.py``, built with the matrix's Endpoint class."""
    row = {"input": "How do I get a refund?", "output": "Refunds take 5 days."}
    return [
        endpoint(
            "build",
            "POST",
            lambda w: f"/v1/prompts/{prompt}/build",
            Permission.RESOLVE,
            lambda w: {"variables": {"name": "Ada"}},
        ),
        endpoint("collections-list", "GET", lambda w: "/v1/collections", Permission.READ),
        endpoint(
            "collections-create",
            "POST",
            lambda w: "/v1/collections",
            Permission.WRITE,
            lambda w: {"name": f"new-{uuid.uuid4().hex[:8]}"},
        ),
        endpoint("collection-get", "GET", _under(""), Permission.READ),
        endpoint(
            "collection-update",
            "PATCH",
            _under(""),
            Permission.WRITE,
            lambda w: {"description": uuid.uuid4().hex},
        ),
        endpoint("collection-delete", "DELETE", _fresh_collection, Permission.WRITE),
        endpoint("collection-vectors", "GET", _under("/vectors"), Permission.RESOLVE),
        endpoint("examples-list", "GET", _under("/examples"), Permission.READ),
        endpoint("examples-search", "GET", _under("/examples/search?q=parcel"), Permission.READ),
        endpoint(
            "examples-add",
            "POST",
            _under("/examples"),
            Permission.WRITE,
            lambda w: {"examples": [row]},
        ),
        endpoint(
            "examples-import",
            "POST",
            _under("/examples/import"),
            Permission.WRITE,
            lambda w: {"text": json.dumps(row)},
        ),
        endpoint("example-delete", "DELETE", _fresh_example, Permission.WRITE),
    ]
