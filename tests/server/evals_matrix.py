"""Evaluation endpoints (datasets, providers, runs, gates) for the endpoint x role matrix in
``test_server_auth.py``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from promptvault.errors import DatasetNotFound
from promptvault.server.auth import Permission

DATASET = "matrix-qa"


def _ensure(w: Any) -> str:
    try:
        w.vault.evals.dataset(DATASET)
    except DatasetNotFound:
        w.vault.evals.create_dataset(
            DATASET, cases=[{"key": "c1", "variables": {"name": "Ada"}}], actor="setup"
        )
    return f"/v1/datasets/{DATASET}"


def _fresh_case(w: Any) -> str:
    base = _ensure(w)
    key = f"k-{uuid.uuid4().hex[:8]}"
    w.vault.evals.add_cases(DATASET, [{"key": key, "variables": {"name": key}}], actor="setup")
    return f"{base}/cases/{key}"


def _under(suffix: str) -> Callable[[Any], str]:
    return lambda w: _ensure(w) + suffix


def eval_endpoints(endpoint: Any) -> list[Any]:
    """The endpoints of ``server/api/datasets.py`` and ``server/api/evals.py``."""
    return [
        endpoint("datasets-list", "GET", lambda w: "/v1/datasets", Permission.READ),
        endpoint(
            "datasets-create",
            "POST",
            lambda w: "/v1/datasets",
            Permission.WRITE,
            lambda w: {"name": f"d-{uuid.uuid4().hex[:8]}"},
        ),
        endpoint("datasets-get", "GET", _under(""), Permission.READ),
        endpoint(
            "datasets-update",
            "PATCH",
            _under(""),
            Permission.WRITE,
            lambda w: {"description": uuid.uuid4().hex},
        ),
        endpoint("datasets-cases", "GET", _under("/cases"), Permission.READ),
        endpoint(
            "datasets-add",
            "POST",
            _under("/cases"),
            Permission.WRITE,
            lambda w: {"cases": [{"variables": {"name": uuid.uuid4().hex}}]},
        ),
        endpoint(
            "datasets-edit",
            "PUT",
            _fresh_case,
            Permission.WRITE,
            lambda w: {"variables": {"name": uuid.uuid4().hex}},
        ),
        endpoint("datasets-delete-case", "DELETE", _fresh_case, Permission.WRITE),
        endpoint(
            "datasets-import",
            "POST",
            _under("/import"),
            Permission.WRITE,
            lambda w: {"content": f'{{"variables": {{"name": "{uuid.uuid4().hex}"}}}}\n'},
        ),
        endpoint("datasets-export", "GET", _under("/export?format=csv"), Permission.READ),
    ]
