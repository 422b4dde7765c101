"""Evaluation providers, runs, comparisons and gates.

Roles: ``viewer`` lists providers (never their secrets), runs and gates and compares runs;
``editor`` starts runs (they call a model and cost money, like a push costs review);
``admin`` configures providers (their secrets are encrypted at rest with
``PROMPTVAULT_SECRET_KEY`` and never sent back) and gates.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from promptvault.evals.models import Comparison, Gate, Provider, Run
from promptvault.server.api._body import RequestBody
from promptvault.server.api._models import Page
from promptvault.server.auth import Admin, Reader, Writer
from promptvault.server.deps import VaultDep
from promptvault.server.errors import ERROR_RESPONSES
from promptvault.server.evaltasks import EvalTasks

__all__ = ["router"]

router = APIRouter(prefix="/v1/evals", tags=["evaluations"], responses=ERROR_RESPONSES)
NamePath = Annotated[str, Path(min_length=1, max_length=200)]


class _Body(RequestBody):
    """A request body of this router."""


class ProviderBody(_Body):
    """A provider: ``openai`` (any OpenAI-compatible ``base_url``) or ``anthropic``.
    ``api_key`` is write-only; left out, the stored one is kept."""

    kind: Literal["openai", "anthropic"]
    base_url: str | None = Field(default=None, max_length=500)
    api_key: str | None = Field(default=None, min_length=1, max_length=2000)
    model: str | None = Field(default=None, max_length=200)
    options: dict[str, Any] = Field(default_factory=dict)


class RunBody(_Body):
    """A run of ``prompt`` (``name@label`` or ``name@7``) over ``dataset``; ``resume`` names
    an interrupted run to finish instead. ``evaluators`` default to the dataset's."""

    dataset: str = Field(min_length=1, max_length=200)
    prompt: str | None = Field(default=None, min_length=1, max_length=300)
    provider: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=200)
    evaluators: list[dict[str, Any]] | None = Field(default=None, max_length=50)
    concurrency: int | None = Field(default=None, ge=1, le=256)
    resume: str | None = Field(default=None, max_length=32)
    cache: bool = True


class GateBody(_Body):
    """A gate on a prompt's label."""

    prompt: str = Field(min_length=1, max_length=200)
    label: str = Field(min_length=1, max_length=64)
    dataset: str = Field(min_length=1, max_length=200)
    thresholds: dict[str, float]
    alpha: float = Field(default=0.05, gt=0, lt=1)


@router.get("/providers", response_model=Page[Provider])
def list_providers(vault: VaultDep, _key: Reader) -> Page[Provider]:
    """Stored and settings providers (no secrets: ``has_secret`` only)."""
    return Page(items=vault.evals.providers())


@router.put("/providers/{name}", response_model=Provider)
def put_provider(name: NamePath, body: ProviderBody, vault: VaultDep, key: Admin) -> Provider:
    """Create or replace a provider (422 ``secret_key_missing`` when a secret cannot be
    encrypted because the server has no ``PROMPTVAULT_SECRET_KEY``)."""
    return vault.evals.set_provider(
        name,
        kind=body.kind,
        base_url=body.base_url,
        api_key=body.api_key,
        model=body.model,
        options=body.options,
        actor=key.name,
    )


@router.delete("/providers/{name}", status_code=204)
def delete_provider(name: NamePath, vault: VaultDep, key: Admin) -> None:
    """Remove a stored provider."""
    vault.evals.delete_provider(name, actor=key.name)


@router.post(
    "/runs",
    response_model=Run,
    status_code=202,
    responses={202: {"description": "The run is recorded and runs in the background."}},
)
async def start_run(
    body: RunBody, request: Request, response: Response, vault: VaultDep, key: Writer
) -> Run:
    """Start a run of a prompt version over a dataset (or resume an interrupted one) and
    answer at once, with the run as recorded (status ``running``).

    Everything that can refuse the run is checked first (the reference, the dataset, the
    provider, every case against the prompt's schema): those errors come back here. The
    model calls then go on in the server's background; ``GET /v1/evals/runs/{id}`` shows
    ``progress`` and, once ``status`` is ``finished``, the summary and every result. A
    server that stops mid-run marks it ``interrupted`` (one that is killed, once the run's
    lease runs out): resume it with ``resume``. A run still executing is not resumed (409).
    """
    tasks: EvalTasks = request.app.state.eval_tasks

    def start() -> Run:
        if body.resume is not None:
            tasks.check_free(body.resume)
        prepared = vault.evals.prepare_run(
            body.dataset,
            body.prompt,
            provider=body.provider,
            model=body.model,
            evaluators=body.evaluators,
            concurrency=body.concurrency,
            resume=body.resume,
            cache=body.cache,
            actor=key.name,
        )
        tasks.start(prepared.run.id, lambda: prepared.execute(None))
        return prepared.run

    run = await run_in_threadpool(start)
    response.headers["Location"] = f"/v1/evals/runs/{run.id}"
    return run


@router.get("/runs", response_model=Page[Run])
def list_runs(
    vault: VaultDep,
    _key: Reader,
    dataset: Annotated[str | None, Query(max_length=200)] = None,
    prompt: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[Run]:
    """Runs newest first (without per-case results)."""
    return Page(items=vault.evals.runs(dataset=dataset, prompt=prompt, limit=limit))


@router.get("/runs/{run_id}", response_model=Run)
def get_run(
    run_id: Annotated[str, Path(max_length=32)],
    vault: VaultDep,
    _key: Reader,
    results: Annotated[bool, Query(description="Include the per-case results.")] = True,
) -> Run:
    """One run: status, ``progress`` (cases done of total, errors), the summary once it
    has finished, and the per-case results committed so far."""
    return vault.evals.get_run(run_id, results=results)


@router.get("/compare", response_model=Comparison)
def compare_runs(
    vault: VaultDep,
    _key: Reader,
    a: Annotated[str, Query(max_length=32, description="The baseline run.")],
    b: Annotated[str, Query(max_length=32, description="The run compared with it.")],
    alpha: Annotated[float, Query(gt=0, lt=1)] = 0.05,
) -> Comparison:
    """Run ``b`` against run ``a``: per case, per evaluator, paired tests."""
    return vault.evals.compare(a, b, alpha=alpha)


@router.get("/gates", response_model=Page[Gate])
def list_gates(
    vault: VaultDep, _key: Reader, prompt: Annotated[str | None, Query(max_length=200)] = None
) -> Page[Gate]:
    """Every eval gate (of one prompt when given)."""
    return Page(items=vault.evals.gates(prompt))


@router.put("/gates", response_model=Gate)
def put_gate(body: GateBody, vault: VaultDep, key: Admin) -> Gate:
    """Create or replace the gate on a prompt's label."""
    return vault.evals.set_gate(
        body.prompt,
        body.label,
        dataset=body.dataset,
        thresholds=body.thresholds,
        alpha=body.alpha,
        actor=key.name,
    )


@router.delete("/gates", status_code=204)
def delete_gate(
    vault: VaultDep,
    key: Admin,
    prompt: Annotated[str, Query(min_length=1, max_length=200)],
    label: Annotated[str, Query(min_length=1, max_length=64)],
) -> None:
    """Remove the gate on a prompt's label."""
    vault.evals.delete_gate(prompt, label, actor=key.name)
