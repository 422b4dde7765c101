"""Evaluation datasets: list, create, read, change, import and export their cases.

Roles: ``viewer`` reads datasets, their cases (at any version) and exports; ``editor``
creates datasets and adds, edits, deletes and imports cases. Every change makes a new
dataset version and an audit entry named after the API key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from promptvault.entities import MAX_INT
from promptvault.evals.dataset_io import MAX_KEY
from promptvault.evals.models import Case, Dataset, DatasetChange
from promptvault.server.api._body import RequestBody
from promptvault.server.api._models import Page
from promptvault.server.auth import Reader, Writer
from promptvault.server.deps import VaultDep
from promptvault.server.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/v1/datasets", tags=["evaluations"], responses=ERROR_RESPONSES)
NamePath = Annotated[str, Path(min_length=1, max_length=200)]
MAX_CASES = 10_000
MAX_IMPORT_CHARS = 10 << 20


class _Body(RequestBody):
    """A request body of this router."""


class CaseBody(_Body):
    """One case; ``key`` defaults to a digest of its content."""

    key: str | None = Field(default=None, min_length=1, max_length=MAX_KEY)
    variables: dict[str, Any] = Field(default_factory=dict)
    expected: Any = None
    tags: list[str] = Field(default_factory=list, max_length=100)
    metadata: dict[str, Any] = Field(default_factory=dict)

    def plain(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"expected"}) | {
            "expected": self.expected
        }


class CreateDatasetBody(_Body):
    """A new dataset, optionally with evaluators and first cases."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    evaluators: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    cases: list[CaseBody] = Field(default_factory=list, max_length=MAX_CASES)


class UpdateDatasetBody(_Body):
    """New description and/or default evaluators."""

    description: str | None = Field(default=None, max_length=2000)
    evaluators: list[dict[str, Any]] | None = Field(default=None, max_length=50)


class AddCasesBody(_Body):
    """Cases to add (their keys must be new)."""

    cases: list[CaseBody] = Field(min_length=1, max_length=MAX_CASES)


class DeleteCasesBody(_Body):
    """Cases to remove, by key (all of them must exist)."""

    keys: list[Annotated[str, Field(min_length=1, max_length=MAX_KEY)]] = Field(
        min_length=1, max_length=MAX_CASES
    )


class ImportBody(_Body):
    """A JSONL or CSV document. All or nothing unless ``partial``; ``replace`` removes the
    cases the document does not have."""

    format: Literal["jsonl", "csv"] = "jsonl"
    content: str = Field(max_length=MAX_IMPORT_CHARS)
    partial: bool = False
    replace: bool = False


@router.get("", response_model=Page[Dataset])
def list_datasets(vault: VaultDep, _key: Reader) -> Page[Dataset]:
    """Every dataset, by name."""
    return Page(items=vault.evals.datasets())


@router.post("", response_model=Dataset, status_code=201)
def create_dataset(body: CreateDatasetBody, vault: VaultDep, key: Writer) -> Dataset:
    """Create a dataset (409 when the name is taken)."""
    return vault.evals.create_dataset(
        body.name,
        description=body.description,
        evaluators=body.evaluators,
        cases=[c.plain() for c in body.cases],
        actor=key.name,
    )


@router.get("/{name}", response_model=Dataset)
def get_dataset(name: NamePath, vault: VaultDep, _key: Reader) -> Dataset:
    """One dataset's current state."""
    return vault.evals.dataset(name)


@router.patch("/{name}", response_model=Dataset)
def update_dataset(
    name: NamePath, body: UpdateDatasetBody, vault: VaultDep, key: Writer
) -> Dataset:
    """Change the description or default evaluators (a new version)."""
    return vault.evals.update_dataset(
        name, description=body.description, evaluators=body.evaluators, actor=key.name
    )


@router.get("/{name}/cases", response_model=Page[Case])
def list_cases(
    name: NamePath,
    vault: VaultDep,
    _key: Reader,
    version: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
) -> Page[Case]:
    """The cases at ``version`` (default: the current one)."""
    return Page(items=vault.evals.cases(name, version=version))


@router.post("/{name}/cases", response_model=DatasetChange, status_code=201)
def add_cases(name: NamePath, body: AddCasesBody, vault: VaultDep, key: Writer) -> DatasetChange:
    """Add cases (409 when a key exists with other content)."""
    return vault.evals.add_cases(name, [c.plain() for c in body.cases], actor=key.name)


@router.put("/{name}/cases/{case}", response_model=DatasetChange)
def edit_case(
    name: NamePath, case: NamePath, body: CaseBody, vault: VaultDep, key: Writer
) -> DatasetChange:
    """Replace one case."""
    return vault.evals.edit_case(name, case, body.plain(), actor=key.name)


@router.delete("/{name}/cases/{case}", response_model=DatasetChange)
def delete_case(name: NamePath, case: NamePath, vault: VaultDep, key: Writer) -> DatasetChange:
    """Remove one case from the next version."""
    return vault.evals.delete_cases(name, [case], actor=key.name)


@router.post("/{name}/cases/delete", response_model=DatasetChange)
def delete_cases(
    name: NamePath, body: DeleteCasesBody, vault: VaultDep, key: Writer
) -> DatasetChange:
    """Remove several cases in one new version; nothing is removed when a key is unknown."""
    return vault.evals.delete_cases(name, body.keys, actor=key.name)


@router.post("/{name}/import", response_model=DatasetChange)
def import_cases(name: NamePath, body: ImportBody, vault: VaultDep, key: Writer) -> DatasetChange:
    """Import JSONL or CSV (422 listing each bad line and field, unless ``partial``)."""
    return vault.evals.import_cases(
        name,
        body.content,
        fmt=body.format,
        partial=body.partial,
        replace=body.replace,
        actor=key.name,
    )


@router.get(
    "/{name}/export",
    response_class=Response,
    responses={
        200: {
            "description": "The cases, one JSON object per line, or CSV with a header row.",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
def export_cases(
    name: NamePath,
    vault: VaultDep,
    _key: Reader,
    format: Literal["jsonl", "csv"] = "jsonl",
    version: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
) -> Response:
    """The cases as JSONL or CSV."""
    text = vault.evals.export_cases(name, fmt=format, version=version)
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return Response(text, media_type=f"{media}; charset=utf-8")
