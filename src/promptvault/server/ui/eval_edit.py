"""Changing evaluation datasets from the web UI, and starting runs.

Every change needs the ``write`` permission, as ``/v1/datasets`` does for editors, carries
the form's CSRF token, and goes through ``vault.evals`` (so the checks and audit entries are
the API's, named after the signed-in key). A case can be checked against a prompt's
variables schema before it is saved: the prompt reference is remembered in the form, and a
case the prompt would refuse is shown again with the error at the field. An import lists
every refused line with its field; nothing is imported unless "keep the good lines" is
ticked. A run started here goes on in the server's background, as ``POST /v1/evals/runs``.

==========================================  ===============================================
``POST /evals/datasets``                    create a dataset
``GET|POST /evals/datasets/{n}/new-case``   the form to add a case / add it
``GET|POST /evals/datasets/{n}/cases/{k}``  the form to edit a case / save or delete it
``POST /evals/datasets/{n}/import``         import a JSONL or CSV upload
``POST /evals/datasets/{n}/run``            start a run of a prompt over the dataset
``GET /ui/api/evals/runs/{id}``             a run's status and progress (the run page polls)
==========================================  ===============================================
"""

from __future__ import annotations

import json
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from promptvault.errors import InvalidInputError, NotFoundError, PromptVaultError
from promptvault.evals.models import Case, Dataset
from promptvault.server.auth import Permission
from promptvault.server.deps import VaultDep
from promptvault.server.evaltasks import EvalTasks
from promptvault.server.ui.evals import case_url, dataset_url, run_url
from promptvault.server.ui.views import (
    UIRoute,
    User,
    UserDep,
    checked_form,
    flash,
    form_text,
    page,
    redirect,
    require_permission,
    uploaded_text,
)
from promptvault.vault import Vault

__all__ = ["MAX_UPLOAD", "router"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)
MAX_UPLOAD = 10 * 1024 * 1024  # bytes of one import file (the API's limit too)
FIELDS = ("key", "variables", "expected", "tags", "metadata", "prompt")


def _field_of(error: PromptVaultError) -> str:
    """The form field an error belongs to (``form`` when none fits)."""
    raw = str(error.details.get("field") or "")
    parts = raw.split(".")
    for part in parts:
        if part in FIELDS:
            return part
    if raw.startswith("cases") and len(parts) > 2:
        return parts[2] if parts[2] in FIELDS else "form"
    return "prompt" if isinstance(error, NotFoundError) else "form"


def _json_field(form: Any, field: str, *, default: Any, kind: type) -> Any:
    raw = form_text(form, field).strip()
    if not raw:
        return default
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"{field} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            details={"field": field},
        ) from None
    if not isinstance(value, kind):
        raise InvalidInputError(
            f"{field} must be a JSON {'object' if kind is dict else 'value'}",
            details={"field": field},
        )
    return value


def _case_from_form(form: Any) -> dict[str, Any]:
    expected_raw = form_text(form, "expected")
    expected: Any = expected_raw if expected_raw.strip() else None
    if expected is not None and form.get("expected_json") == "1":
        expected = _json_field(form, "expected", default=None, kind=object)
    case: dict[str, Any] = {
        "variables": _json_field(form, "variables", default={}, kind=dict),
        "expected": expected,
        "tags": [t.strip() for t in form_text(form, "tags").split(",") if t.strip()],
        "metadata": _json_field(form, "metadata", default={}, kind=dict),
    }
    key = form_text(form, "key").strip()
    if key:
        case["key"] = key
    return case


def _check_against(vault: Vault, ref: str, variables: dict[str, Any]) -> None:
    """Build the case as a run would: the prompt's schema and template check it."""
    if ref:
        vault.build(ref, variables)


def _default_prompt(vault: Vault, name: str) -> str:
    runs = vault.evals.runs(dataset=name, limit=1)
    return f"{runs[0].prompt}@{runs[0].version}" if runs else ""


def _values(case: Case | None, prompt: str) -> dict[str, str]:
    if case is None:
        return {"key": "", "variables": "{}", "expected": "", "tags": "", "metadata": "",
                "prompt": prompt, "expected_json": ""}  # fmt: skip
    expected_json = case.expected is not None and not isinstance(case.expected, str)
    return {
        "key": case.key,
        "variables": json.dumps(case.variables, indent=2, ensure_ascii=False),
        "expected": (
            json.dumps(case.expected, ensure_ascii=False)
            if expected_json
            else (case.expected or "")
        ),
        "expected_json": "1" if expected_json else "",
        "tags": ", ".join(case.tags),
        "metadata": json.dumps(case.metadata, ensure_ascii=False) if case.metadata else "",
        "prompt": prompt,
    }


def _form_page(
    request: Request,
    dataset: Dataset,
    *,
    key: str | None,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
) -> Response:
    return page(
        request,
        "eval_case.html",
        {
            "dataset": dataset,
            "key": key,
            "v": values,
            "errors": errors or {},
            "action": case_url(dataset.name, key)
            if key
            else f"{dataset_url(dataset.name)}/new-case",
            "dataset_url": dataset_url,
        },
        status=422 if errors else 200,
    )


def _one_case(vault: Vault, name: str, key: str) -> Case:
    found = next((c for c in vault.evals.cases(name) if c.key == key), None)
    if found is None:
        raise NotFoundError(
            f"dataset {name!r} has no case {key!r}", details={"field": "key", "value": key}
        )
    return found


# --- datasets ---------------------------------------------------------------------------


@router.post("/evals/datasets")
async def create_dataset(request: Request, vault: VaultDep, user: UserDep) -> Response:
    """A new, empty dataset (name, description, default evaluators as JSON)."""
    form = await checked_form(request, user, Permission.WRITE)
    evaluators = _json_field(form, "evaluators", default=[], kind=list)
    made = await run_in_threadpool(
        lambda: vault.evals.create_dataset(
            form_text(form, "name").strip(),
            description=form_text(form, "description").strip(),
            evaluators=evaluators,
            actor=user.key.name,
        )
    )
    return flash(redirect(dataset_url(made.name)), f"Created dataset {made.name}")


# --- cases ------------------------------------------------------------------------------


@router.get("/evals/datasets/{name}/new-case")
def new_case_page(
    *, request: Request, name: str, vault: VaultDep, user: UserDep, prompt: str = ""
) -> Response:
    """The form to add a case (checked against ``prompt`` when one is named)."""
    require_permission(user, Permission.WRITE)
    dataset = vault.evals.dataset(name)
    return _form_page(
        request, dataset, key=None, values=_values(None, prompt or _default_prompt(vault, name))
    )


@router.get("/evals/datasets/{name}/cases/{key}")
def edit_case_page(
    *, request: Request, name: str, key: str, vault: VaultDep, user: UserDep, prompt: str = ""
) -> Response:
    """The form to change (or delete) one case."""
    require_permission(user, Permission.WRITE)
    dataset = vault.evals.dataset(name)
    case = _one_case(vault, name, key)
    return _form_page(
        request, dataset, key=key, values=_values(case, prompt or _default_prompt(vault, name))
    )


async def _save_case(
    request: Request, name: str, key: str | None, vault: Vault, user: User
) -> Response:
    form = await checked_form(request, user, Permission.WRITE)
    dataset = await run_in_threadpool(vault.evals.dataset, name)
    values = {f: form_text(form, f) for f in (*FIELDS, "expected_json")}
    ref = values["prompt"].strip()
    try:
        case = _case_from_form(form)

        def save() -> Any:
            _check_against(vault, ref, case["variables"])
            if key is None:
                return vault.evals.add_cases(name, [case], actor=user.key.name)
            return vault.evals.edit_case(name, key, case, actor=user.key.name)

        change = await run_in_threadpool(save)
    except PromptVaultError as error:
        if error.code in ("forbidden", "unauthorized"):
            raise
        return _form_page(
            request, dataset, key=key, values=values, errors={_field_of(error): error.message}
        )
    shown = key or case.get("key") or "the new case"
    message = (
        f"Saved {shown} (v{change.version})"
        if change.added or change.updated
        else f"{shown} unchanged"
    )
    target = dataset_url(name) + (f"?prompt={quote(ref, safe='')}" if ref else "")
    return flash(redirect(target), message)


@router.post("/evals/datasets/{name}/new-case")
async def add_case(request: Request, name: str, vault: VaultDep, user: UserDep) -> Response:
    """Add one case; a case the prompt or the dataset refuses comes back with the error."""
    return await _save_case(request, name, None, vault, user)


@router.post("/evals/datasets/{name}/cases/{key}")
async def edit_case(
    request: Request, name: str, key: str, vault: VaultDep, user: UserDep
) -> Response:
    """Save one case's fields, or delete it (``delete=1``)."""
    if (await request.form()).get("delete") == "1":
        await checked_form(request, user, Permission.WRITE)
        change = await run_in_threadpool(
            lambda: vault.evals.delete_cases(name, [key], actor=user.key.name)
        )
        return flash(redirect(dataset_url(name)), f"Deleted {key} (v{change.version})")
    return await _save_case(request, name, key, vault, user)


# --- import -----------------------------------------------------------------------------


@router.post("/evals/datasets/{name}/import")
async def import_cases(request: Request, name: str, vault: VaultDep, user: UserDep) -> Response:
    """Import an uploaded JSONL or CSV file: all or nothing unless ``partial``; the page
    lists every refused line and field."""
    form = await checked_form(request, user, Permission.WRITE)
    text, filename = await uploaded_text(form, "file", MAX_UPLOAD)
    fmt: Literal["jsonl", "csv"] = "csv" if filename.lower().endswith(".csv") else "jsonl"
    partial = form.get("partial") == "1"
    problems: list[dict[str, Any]] = []
    change = None
    try:
        change = await run_in_threadpool(
            lambda: vault.evals.import_cases(
                name, text, fmt=fmt, partial=partial, create=False, actor=user.key.name
            )
        )
    except InvalidInputError as error:
        problems = list(error.details.get("problems") or [])
        if not problems:
            problems = [{"line": error.details.get("line"), "field": error.details.get("field"),
                         "message": error.message}]  # fmt: skip
    if change is not None:
        problems = [p.model_dump() for p in change.skipped]
    return page(
        request,
        "eval_import.html",
        {
            "dataset": vault.evals.dataset(name),
            "filename": filename,
            "change": change,
            "problems": problems,
            "dataset_url": dataset_url,
        },
        status=422 if change is None else 200,
    )


# --- runs -------------------------------------------------------------------------------


@router.post("/evals/datasets/{name}/run")
async def start_run(request: Request, name: str, vault: VaultDep, user: UserDep) -> Response:
    """Start a run of a prompt over the dataset in the background; open its page."""
    form = await checked_form(request, user, Permission.WRITE)
    tasks: EvalTasks = request.app.state.eval_tasks
    raw = form_text(form, "concurrency").strip()
    try:
        concurrency = int(raw) if raw else None
    except ValueError:
        concurrency = 0
    if concurrency is not None and not 1 <= concurrency <= 256:
        raise InvalidInputError(
            "concurrency must be a whole number from 1 to 256", details={"field": "concurrency"}
        )

    def start() -> str:
        prepared = vault.evals.prepare_run(
            name,
            form_text(form, "prompt").strip(),
            provider=form_text(form, "provider").strip() or None,
            concurrency=concurrency,
            actor=user.key.name,
        )
        tasks.start(prepared.run.id, lambda: prepared.execute(None))
        return prepared.run.id

    run_id = await run_in_threadpool(start)
    return flash(redirect(run_url(run_id)), f"Started run {run_id}")


@router.get("/ui/api/evals/runs/{run_id}")
def run_progress(run_id: str, vault: VaultDep, user: UserDep) -> Response:
    """A run's status and progress, for the run page while it is going."""
    run = vault.evals.get_run(run_id, results=False)
    progress = run.progress
    return JSONResponse(
        {
            "status": run.status,
            "done": progress.done if progress else 0,
            "total": run.total,
            "errors": progress.errors if progress else 0,
        },
        headers={"Cache-Control": "no-store"},
    )
