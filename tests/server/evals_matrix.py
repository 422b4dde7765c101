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


def _fresh_batch(w: Any) -> str:
    """The batch delete route, with a new case for the body to name (the path comes first)."""
    case = _fresh_case(w)
    w.batch_key = case.rpartition("/")[2]
    return f"{_ensure(w)}/cases/delete"


EMPTY = "matrix-empty"  # runs over it call no model


def _setup_runs(w: Any) -> str:
    """A provider that is never called and a finished run over an empty dataset."""
    try:
        w.vault.evals.dataset(EMPTY)
    except DatasetNotFound:
        w.vault.evals.create_dataset(EMPTY, actor="setup")
        w.vault.evals.set_provider(
            "matrix", kind="openai", base_url="http://127.0.0.1:9/v1", actor="setup"
        )
    return w.vault.evals.run(EMPTY, "team/support@production", provider="matrix").id


def _run_body(w: Any) -> dict[str, Any]:
    _setup_runs(w)
    return {"dataset": EMPTY, "prompt": "team/support@production", "provider": "matrix"}


def _fresh_provider(w: Any) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    w.vault.evals.set_provider(name, kind="openai", actor="setup")
    return f"/v1/evals/providers/{name}"


def _fresh_gate(w: Any) -> str:
    _ensure(w)
    label = f"g-{uuid.uuid4().hex[:8]}"
    w.vault.evals.set_gate(
        "team/support", label, dataset=DATASET, thresholds={"exact": 0.5}, actor="setup"
    )
    return f"/v1/evals/gates?prompt=team/support&label={label}"


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
            "datasets-delete-cases",
            "POST",
            _fresh_batch,
            Permission.WRITE,
            lambda w: {"keys": [w.batch_key]},
        ),
        endpoint(
            "datasets-import",
            "POST",
            _under("/import"),
            Permission.WRITE,
            lambda w: {"content": f'{{"variables": {{"name": "{uuid.uuid4().hex}"}}}}\n'},
        ),
        endpoint("datasets-export", "GET", _under("/export?format=csv"), Permission.READ),
        endpoint("providers-list", "GET", lambda w: "/v1/evals/providers", Permission.READ),
        endpoint(
            "providers-put",
            "PUT",
            lambda w: f"/v1/evals/providers/p-{uuid.uuid4().hex[:8]}",
            Permission.ADMIN,
            lambda w: {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"},
        ),
        endpoint("providers-delete", "DELETE", _fresh_provider, Permission.ADMIN),
        endpoint(
            "runs-create",
            "POST",
            lambda w: "/v1/evals/runs",
            Permission.WRITE,
            _run_body,
        ),
        endpoint("runs-list", "GET", lambda w: "/v1/evals/runs", Permission.READ),
        endpoint("runs-get", "GET", lambda w: f"/v1/evals/runs/{_setup_runs(w)}", Permission.READ),
        endpoint(
            "runs-compare",
            "GET",
            lambda w: "/v1/evals/compare?a={0}&b={0}".format(_setup_runs(w)),
            Permission.READ,
        ),
        endpoint("gates-list", "GET", lambda w: "/v1/evals/gates", Permission.READ),
        endpoint(
            "gates-put",
            "PUT",
            lambda w: "/v1/evals/gates",
            Permission.ADMIN,
            lambda w: {
                "prompt": "team/support",
                "label": f"g-{uuid.uuid4().hex[:8]}",
                "dataset": _ensure(w).rsplit("/", 1)[1],
                "thresholds": {"exact": 0.5},
            },
        ),
        endpoint("gates-delete", "DELETE", _fresh_gate, Permission.ADMIN),
    ]
