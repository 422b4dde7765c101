"""Evaluation pages: datasets and their cases, runs with a per-case table, comparisons.

Every signed-in role may browse. Writers change datasets and start runs with the forms of
:mod:`promptvault.server.ui.eval_edit`; gates go through the CLI, the library or
``/v1/evals``. A running run's page follows its progress.

==============================  =========================================================
``/evals``                      datasets and the latest runs
``/evals/datasets/{name}``      a dataset's cases (``?version=`` for a past one) and runs
``/evals/runs/{id}``            a run: totals, evaluators, per-case table (``?failures=1``)
``/evals/compare?a=&b=``        two runs side by side: tests per evaluator, word diffs
==============================  =========================================================
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from promptvault.evals.models import CaseResult
from promptvault.server.deps import VaultDep
from promptvault.server.ui.views import UIRoute, UserDep, page

__all__ = ["router"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)
MAX_ROWS = 1000


def dataset_url(name: str) -> str:
    """The URL of a dataset's page."""
    return f"/evals/datasets/{quote(name, safe='')}"


def case_url(name: str, key: str) -> str:
    """The URL of the form that edits one case of a dataset."""
    return f"{dataset_url(name)}/cases/{quote(key, safe='')}"


def run_url(run_id: str) -> str:
    """The URL of a run's page."""
    return f"/evals/runs/{quote(run_id, safe='')}"


def _failed(result: CaseResult) -> bool:
    return result.error is not None or any(not s.passed for s in result.scores)


_LINKS = {"dataset_url": dataset_url, "run_url": run_url, "case_url": case_url}


@router.get("/evals")
def evals_home(*, request: Request, vault: VaultDep, user: UserDep) -> Response:
    """Datasets and the latest runs."""
    return page(
        request,
        "evals.html",
        {"datasets": vault.evals.datasets(), "runs": vault.evals.runs(limit=50), **_LINKS},
    )


@router.get("/evals/datasets/{name}")
def dataset_page(
    *,
    request: Request,
    name: str,
    vault: VaultDep,
    user: UserDep,
    version: Annotated[int | None, Query(ge=1)] = None,
    prompt: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    """One dataset's cases at a version, and the runs made on it; writers also get the
    forms to add, edit and import cases and to start a run (``prompt`` fills them in)."""
    dataset = vault.evals.dataset(name)
    cases = vault.evals.cases(name, version=version)
    runs = vault.evals.runs(dataset=name, limit=50)
    return page(
        request,
        "eval_dataset.html",
        {
            "dataset": dataset,
            "version": version or dataset.version,
            "cases": cases[:MAX_ROWS],
            "total": len(cases),
            "runs": runs,
            "prompt": prompt or (f"{runs[0].prompt}@{runs[0].version}" if runs else ""),
            "providers": vault.evals.providers() if user.can_write else [],
            **_LINKS,
        },
    )


@router.get("/evals/runs/{run_id}")
def run_page(
    *, request: Request, run_id: str, vault: VaultDep, user: UserDep, failures: bool = False
) -> Response:
    """A run: totals, evaluator means, every case (or only the failed ones)."""
    run = vault.evals.get_run(run_id)
    results = run.results or []
    shown = [r for r in results if _failed(r)] if failures else results
    others = [r for r in vault.evals.runs(dataset=run.dataset, limit=20) if r.id != run.id]
    return page(
        request,
        "eval_run.html",
        {
            "run": run,
            "results": shown[:MAX_ROWS],
            "failed_count": sum(1 for r in results if _failed(r)),
            "failures": failures,
            "others": others,
            **_LINKS,
        },
    )


@router.get("/evals/compare")
def compare_page(
    *,
    request: Request,
    vault: VaultDep,
    user: UserDep,
    a: Annotated[str, Query(max_length=32)],
    b: Annotated[str, Query(max_length=32)],
    flipped: bool = False,
) -> Response:
    """Run ``b`` against run ``a``: paired tests per evaluator, cases side by side."""
    comparison = vault.evals.compare(a, b)
    cases = [c for c in comparison.cases if c.flipped] if flipped else comparison.cases
    return page(
        request,
        "eval_compare.html",
        {"c": comparison, "cases": cases[:MAX_ROWS], "flipped_only": flipped, **_LINKS},
    )
