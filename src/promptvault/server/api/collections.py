"""Few-shot collections and examples, and ``POST /v1/prompts/{name}/build``.

Roles: ``runtime`` may build and fetch a collection's vectors (what the SDK needs to select
examples in-process); ``viewer`` reads collections and examples and searches them;
``editor`` creates, changes and deletes collections and examples, and imports.

``GET /v1/collections/{name}/vectors`` sends the examples and their embeddings as base64 of
little-endian float32 (``n * dim`` values, row-major), with ``ETag`` = the collection's
revision, so a client that already holds the current revision gets a 304.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from promptvault.entities import MAX_INT, Example
from promptvault.errors import InvalidInputError
from promptvault.fewshot.models import Collection, ImportReport, Strategy
from promptvault.server.api._body import RequestBody
from promptvault.server.api._models import Page
from promptvault.server.auth import Reader, Resolver, Writer
from promptvault.server.deps import VaultDep
from promptvault.server.errors import ERROR_RESPONSES

__all__ = ["build_router", "router"]

router = APIRouter(prefix="/v1/collections", tags=["examples"], responses=ERROR_RESPONSES)
build_router = APIRouter(prefix="/v1/prompts", tags=["resolve"], responses=ERROR_RESPONSES)
MAX_ADD = 10_000


class _Body(RequestBody):
    """A request body of this router."""


class BuildBody(_Body):
    """What to build: a label or version (default production), variables, examples, history.

    ``unit_id`` routes through a running experiment; leave it out for none, or send
    ``null`` for a random assignment. ``examples`` is a collection name or
    ``{"collection", "strategy", "k", "query", "filters", "token_budget", "lambda", "seed"}``.
    ``placeholders`` fills a chat prompt's placeholders by name with lists of messages.
    """

    label: str | None = None
    version: int | None = Field(default=None, ge=1, le=MAX_INT)
    variables: dict[str, Any] = Field(default_factory=dict)
    unit_id: str | None = Field(default=None, max_length=200)
    examples: str | dict[str, Any] | None = None
    history: list[dict[str, Any]] | None = None
    placeholders: dict[str, list[dict[str, Any]]] | None = None
    now: datetime | None = None
    strict: bool = True


class Built(BaseModel):
    """A provider-neutral request: ``BuiltRequest.to_dict()``."""

    messages: list[dict[str, Any]]
    model: str | None
    params: dict[str, Any]
    metadata: dict[str, Any]


class CreateCollectionBody(_Body):
    """A new collection; the embedder is fixed at creation (change it with ``/embedder``)."""

    name: str = Field(min_length=1, max_length=200)
    embedder: Literal["hashing", "minilm", "openai"] = "hashing"
    description: str = Field(default="", max_length=2000)
    example_template: str | None = None
    query_template: str | None = None
    prompt: str | None = None
    strategy: Strategy = "semantic"
    k: int = Field(default=3, ge=0, le=1000)
    token_budget: int | None = Field(default=None, ge=0)


class UpdateCollectionBody(_Body):
    """Fields to change (left out: unchanged). ``prompt: null`` detaches the collection."""

    description: str | None = Field(default=None, max_length=2000)
    example_template: str | None = None
    query_template: str | None = None
    prompt: str | None = None
    strategy: Strategy | None = None
    k: int | None = Field(default=None, ge=0, le=1000)
    token_budget: int | None = Field(default=None, ge=0)


class ExampleBody(_Body):
    """One example."""

    input: str = Field(min_length=1)
    output: str = Field(min_length=1)
    category: str | None = Field(default=None, max_length=200)
    quality: float = Field(default=1.0, ge=0, le=1)
    metadata: dict[str, Any] = Field(default_factory=dict)


class AddExamplesBody(_Body):
    """Examples to add in one transaction (all or none)."""

    examples: list[ExampleBody] = Field(min_length=1, max_length=MAX_ADD)


class ImportBody(_Body):
    """A JSONL or CSV file's text; ``strict`` rejects the whole file on any bad row."""

    text: str
    format: Literal["jsonl", "csv"] = "jsonl"
    strict: bool = False


class ScoredExample(BaseModel):
    """A search hit: the example and its cosine similarity to the query."""

    example: Example
    score: float


class Deleted(BaseModel):
    """How many examples were deleted."""

    deleted: int


class Vectors(BaseModel):
    """A collection's examples and embeddings, for selecting in-process."""

    collection: Collection
    revision: int
    dim: int
    embedder_spec: str
    examples: list[Example]
    vectors: str = Field(description="base64 of little-endian float32, n * dim, row-major")


# --- build --------------------------------------------------------------------------------


@build_router.post("/{name:path}/build", response_model=Built)
def build(name: str, body: BuildBody, vault: VaultDep, _key: Resolver) -> dict[str, Any]:
    """Resolve (through a running experiment with ``unit_id``), select examples, render."""
    if body.label is not None and body.version is not None:
        raise InvalidInputError(
            "give either label or version, not both", details={"field": "version"}
        )
    ref = name
    if body.version is not None:
        ref = f"{name}@{body.version}"
    elif body.label is not None:
        ref = f"{name}@{body.label}"
    options: dict[str, Any] = {}
    if "unit_id" in body.model_fields_set:
        options["unit_id"] = body.unit_id
    req = vault.build(
        ref,
        body.variables,
        examples=body.examples,
        history=body.history,
        placeholders=body.placeholders,
        now=body.now,
        strict=body.strict,
        **options,
    )
    return req.to_dict()


# --- collections --------------------------------------------------------------------------


@router.get("", response_model=list[Collection])
def list_collections(
    vault: VaultDep,
    _key: Reader,
    prompt: Annotated[str | None, Query(description="Only those attached to this prompt.")] = None,
) -> list[Collection]:
    """Every collection (or those attached to a prompt)."""
    return vault.examples.list(prompt=prompt)


@router.post("", response_model=Collection, status_code=201)
def create_collection(body: CreateCollectionBody, vault: VaultDep, key: Writer) -> Collection:
    """Create an empty collection."""
    return vault.examples.create(**body.model_dump(), actor=key.name)


@router.get("/{name}", response_model=Collection)
def get_collection(name: str, vault: VaultDep, _key: Reader) -> Collection:
    """One collection: embedder, defaults, size, revision."""
    return vault.examples.get(name)


@router.patch("/{name}", response_model=Collection)
def update_collection(
    name: str, body: UpdateCollectionBody, vault: VaultDep, key: Writer
) -> Collection:
    """Change the format, defaults or attached prompt."""
    fields = body.model_dump(exclude_unset=True)
    attach = "prompt" in fields
    prompt = fields.pop("prompt", None)
    if fields:
        vault.examples.update(name, **fields, actor=key.name)
    if attach:
        vault.examples.attach(name, prompt, actor=key.name)
    return vault.examples.get(name)


@router.delete("/{name}", status_code=204)
def delete_collection(name: str, vault: VaultDep, key: Writer) -> Response:
    """Delete a collection and its examples."""
    vault.examples.delete(name, actor=key.name)
    return Response(status_code=204)


@router.get("/{name}/vectors", response_model=Vectors)
def collection_vectors(name: str, request: Request, vault: VaultDep, _key: Resolver) -> Response:
    """Examples and embeddings of the current revision (ETag = revision; 304 when current)."""
    loaded = vault.examples.cache.get(name)
    index = loaded.index
    etag = f'"{name}:{index.revision}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    payload = Vectors(
        collection=loaded.collection,
        revision=index.revision,
        dim=index.dim,
        embedder_spec=loaded.collection.embedder_spec,
        examples=index.examples[: index.n],
        vectors=base64.b64encode(index.matrix.astype("<f4").tobytes()).decode("ascii"),
    )
    return Response(
        payload.model_dump_json(), media_type="application/json", headers={"ETag": etag}
    )


# --- examples ---------------------------------------------------------------------------------


@router.get("/{name}/examples", response_model=Page[Example])
def list_examples(
    name: str,
    vault: VaultDep,
    _key: Reader,
    category: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        int | None, Query(ge=0, le=MAX_INT, description="Last id of the previous page.")
    ] = None,
) -> Page[Example]:
    """Examples in id order, with usage counts."""
    items = vault.examples.examples(name, category=category, limit=limit + 1, after=cursor)
    more = len(items) > limit
    items = items[:limit]
    return Page[Example](items=items, next_cursor=str(items[-1].id) if more else None)


@router.get("/{name}/examples/search", response_model=list[ScoredExample])
def search_examples(  # noqa: PLR0917 - FastAPI passes query parameters by name
    name: str,
    vault: VaultDep,
    _key: Reader,
    q: Annotated[str, Query(min_length=1, description="Text to match example inputs against.")],
    k: Annotated[int, Query(ge=0, le=1000)] = 5,
    category: str | None = None,
    min_quality: Annotated[float | None, Query(ge=0, le=1)] = None,
) -> list[ScoredExample]:
    """The examples most similar to ``q`` (cosine of the collection's embeddings)."""
    hits = vault.examples.search(name, q, k=k, category=category, min_quality=min_quality)
    return [ScoredExample(example=e, score=s) for e, s in hits]


@router.post("/{name}/examples", response_model=list[Example], status_code=201)
def add_examples(name: str, body: AddExamplesBody, vault: VaultDep, key: Writer) -> list[Example]:
    """Add examples (embedded now, one transaction)."""
    rows = [e.model_dump() for e in body.examples]
    return vault.examples.add_many(name, rows, actor=key.name)


@router.post("/{name}/examples/import", response_model=ImportReport)
def import_examples(name: str, body: ImportBody, vault: VaultDep, key: Writer) -> ImportReport:
    """Import JSONL or CSV text; bad rows are reported by line (``strict``: none imported)."""
    return vault.examples.import_text(
        name, body.text, format=body.format, strict=body.strict, actor=key.name
    )


@router.delete("/{name}/examples/{example_id}", response_model=Deleted)
def delete_example(
    name: str, example_id: Annotated[int, Path(ge=1, le=MAX_INT)], vault: VaultDep, key: Writer
) -> Deleted:
    """Delete one example."""
    return Deleted(deleted=vault.examples.remove(name, [example_id], actor=key.name))
