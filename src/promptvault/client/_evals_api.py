"""The REST calls of ``client.evals``: datasets (``/v1/datasets``), providers, runs,
comparisons and gates (``/v1/evals``), described once for the sync and async clients."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from promptvault.client._api import Call
from promptvault.evals.models import (
    Case,
    Comparison,
    Dataset,
    DatasetChange,
    Gate,
    Provider,
    Run,
)

__all__ = [
    "add_cases",
    "case_body",
    "cases",
    "compare",
    "create_dataset",
    "dataset",
    "datasets",
    "delete_case",
    "delete_gate",
    "delete_provider",
    "edit_case",
    "export_cases",
    "gates",
    "get_run",
    "import_cases",
    "providers",
    "runs",
    "set_gate",
    "set_provider",
    "start_run",
    "update_dataset",
]

T = TypeVar("T")


def _dataset_path(name: str, *suffix: str) -> str:
    return "/".join(["/v1/datasets", *(quote(s, safe="") for s in (name, *suffix))])


def _items(parse: Callable[[Any], T]) -> Callable[[Any], list[T]]:
    return lambda data: [parse(item) for item in data["items"]]


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def case_body(case: Mapping[str, Any] | Case) -> dict[str, Any]:
    """A case as the API takes it (a :class:`Case` or a plain mapping)."""
    data = case.model_dump() if isinstance(case, Case) else dict(case)
    return {k: v for k, v in data.items() if v is not None or k == "expected"}


# --- datasets ---------------------------------------------------------------------------


def datasets() -> Call[list[Dataset]]:
    """GET every dataset."""
    return Call("GET", "/v1/datasets", _items(Dataset.model_validate))


def dataset(name: str) -> Call[Dataset]:
    """GET one dataset's current state."""
    return Call("GET", _dataset_path(name), Dataset.model_validate)


def create_dataset(body: dict[str, Any]) -> Call[Dataset]:
    """POST a new dataset (not retried: a lost answer would make the retry a 409)."""
    return Call("POST", "/v1/datasets", Dataset.model_validate, json=body, idempotent=False)


def update_dataset(name: str, body: dict[str, Any]) -> Call[Dataset]:
    """PATCH a dataset's description or evaluators (a new version each time)."""
    return Call("PATCH", _dataset_path(name), Dataset.model_validate, json=body, idempotent=False)


def cases(name: str, version: int | None) -> Call[list[Case]]:
    """GET the cases at a version (default: the current one)."""
    return Call(
        "GET",
        _dataset_path(name, "cases"),
        _items(Case.model_validate),
        params=_clean({"version": version}),
    )


def add_cases(name: str, items: list[dict[str, Any]]) -> Call[DatasetChange]:
    """POST cases (their keys must be new)."""
    return Call(
        "POST",
        _dataset_path(name, "cases"),
        DatasetChange.model_validate,
        json={"cases": items},
        idempotent=False,
    )


def edit_case(name: str, key: str, body: dict[str, Any]) -> Call[DatasetChange]:
    """PUT one case (the same content twice changes nothing)."""
    return Call("PUT", _dataset_path(name, "cases", key), DatasetChange.model_validate, json=body)


def delete_case(name: str, key: str) -> Call[DatasetChange]:
    """DELETE one case from the next version."""
    return Call(
        "DELETE",
        _dataset_path(name, "cases", key),
        DatasetChange.model_validate,
        idempotent=False,
    )


def delete_cases(name: str, keys: Sequence[str]) -> Call[DatasetChange]:
    """POST the keys of several cases to remove in one version, all or nothing."""
    return Call(
        "POST",
        _dataset_path(name, "cases", "delete"),
        DatasetChange.model_validate,
        json={"keys": list(keys)},
        idempotent=False,
    )


def import_cases(name: str, body: dict[str, Any]) -> Call[DatasetChange]:
    """POST a JSONL or CSV document."""
    return Call(
        "POST",
        _dataset_path(name, "import"),
        DatasetChange.model_validate,
        json=body,
        idempotent=False,
    )


def export_cases(name: str, fmt: str, version: int | None) -> Call[str]:
    """GET the cases as JSONL or CSV text."""
    return Call(
        "GET",
        _dataset_path(name, "export"),
        str,
        params=_clean({"format": fmt, "version": version}),
        text=True,
    )


# --- providers, runs, comparisons, gates -----------------------------------------------------


def providers() -> Call[list[Provider]]:
    """GET every provider (never a secret)."""
    return Call("GET", "/v1/evals/providers", _items(Provider.model_validate))


def set_provider(name: str, body: dict[str, Any]) -> Call[Provider]:
    """PUT a provider (admin keys)."""
    path = "/v1/evals/providers/" + quote(name, safe="")
    return Call("PUT", path, Provider.model_validate, json=body)


def delete_provider(name: str) -> Call[None]:
    """DELETE a stored provider (admin keys)."""
    path = "/v1/evals/providers/" + quote(name, safe="")
    return Call("DELETE", path, lambda _: None, idempotent=False)


def start_run(body: dict[str, Any]) -> Call[Run]:
    """POST a run: the server answers 202 with it recorded, and runs it in the background
    (never retried: a retry would start a second run)."""
    return Call("POST", "/v1/evals/runs", Run.model_validate, json=body, idempotent=False)


def get_run(run_id: str, *, results: bool) -> Call[Run]:
    """GET one run (its progress, and its results unless ``results=False``)."""
    return Call(
        "GET",
        "/v1/evals/runs/" + quote(run_id, safe=""),
        Run.model_validate,
        params={} if results else {"results": "false"},
    )


def runs(dataset: str | None, prompt: str | None, limit: int) -> Call[list[Run]]:
    """GET runs newest first."""
    params = _clean({"dataset": dataset, "prompt": prompt, "limit": limit})
    return Call("GET", "/v1/evals/runs", _items(Run.model_validate), params=params)


def compare(a: str, b: str, alpha: float) -> Call[Comparison]:
    """GET run ``b`` compared with run ``a``."""
    return Call(
        "GET",
        "/v1/evals/compare",
        Comparison.model_validate,
        params={"a": a, "b": b, "alpha": alpha},
    )


def gates(prompt: str | None) -> Call[list[Gate]]:
    """GET the eval gates (of one prompt when given)."""
    return Call(
        "GET", "/v1/evals/gates", _items(Gate.model_validate), params=_clean({"prompt": prompt})
    )


def set_gate(body: dict[str, Any]) -> Call[Gate]:
    """PUT the gate on a prompt's label (admin keys)."""
    return Call("PUT", "/v1/evals/gates", Gate.model_validate, json=body)


def delete_gate(prompt: str, label: str) -> Call[None]:
    """DELETE the gate on a prompt's label (admin keys)."""
    return Call(
        "DELETE",
        "/v1/evals/gates",
        lambda _: None,
        params={"prompt": prompt, "label": label},
        idempotent=False,
    )


def run_body(
    *,
    dataset: str,
    ref: str | None,
    provider: str | None,
    model: str | None,
    evaluators: Sequence[Mapping[str, Any]] | None,
    concurrency: int | None,
    resume: str | None,
    cache: bool,
) -> dict[str, Any]:
    """The body of ``POST /v1/evals/runs``."""
    body: dict[str, Any] = {"dataset": dataset, "cache": cache}
    optional = {
        "prompt": ref,
        "provider": provider,
        "model": model,
        "concurrency": concurrency,
        "resume": resume,
        "evaluators": None if evaluators is None else [dict(e) for e in evaluators],
    }
    body.update(_clean(optional))
    return body
