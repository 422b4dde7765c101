"""Changing few-shot collections from the web UI: create, add, edit, delete, import, embedder.

Every action needs the ``write`` permission, as ``/v1/collections`` does for editors, and
goes through the same service (``vault.examples``), so the checks, the audit entries and the
re-embedding are the API's. A JSONL or CSV file is uploaded as a form field and imported
with the rows that fail listed by line, the others kept.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from promptvault.entities import Example
from promptvault.errors import InvalidInputError, NotFoundError
from promptvault.registry.refs import parse_int
from promptvault.server.auth import Permission
from promptvault.server.deps import VaultDep
from promptvault.server.ui.examples import collection_url
from promptvault.server.ui.views import (
    UIRoute,
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
MAX_UPLOAD = 20 * 1024 * 1024  # bytes of one import file


def _optional(form: Any, field: str) -> str | None:
    return form_text(form, field).strip() or None


def _quality(form: Any) -> float:
    raw = form_text(form, "quality").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise InvalidInputError(
            "quality must be a number from 0 to 1", details={"field": "quality"}
        )
    return value


@router.post("/examples")
async def create_collection(request: Request, vault: VaultDep, user: UserDep) -> Response:
    """A new, empty collection (name, embedder, attached prompt, selection defaults)."""
    form = await checked_form(request, user, Permission.WRITE)
    name = form_text(form, "name").strip()
    k_raw = form_text(form, "k").strip()
    made = await run_in_threadpool(
        lambda: vault.examples.create(
            name,
            embedder=form_text(form, "embedder") or "hashing",
            description=form_text(form, "description").strip(),
            prompt=_optional(form, "prompt"),
            query_template=_optional(form, "query_template"),
            strategy=form_text(form, "strategy") or "semantic",
            k=parse_int(k_raw, field="k", minimum=0) if k_raw else 3,
            actor=user.key.name,
        )
    )
    return flash(redirect(collection_url(made.name)), f"Created collection {made.name}")


@router.post("/examples/{name}/add")
async def add_example(request: Request, name: str, vault: VaultDep, user: UserDep) -> Response:
    """Add one example (embedded now)."""
    form = await checked_form(request, user, Permission.WRITE)
    added = await run_in_threadpool(
        lambda: vault.examples.add(
            name,
            form_text(form, "input"),
            form_text(form, "output"),
            category=_optional(form, "category"),
            quality=_quality(form),
            actor=user.key.name,
        )
    )
    return flash(redirect(collection_url(name)), f"Added example #{added.id}")


def _one(vault: Vault, name: str, example_id: int) -> Example:
    found = vault.examples.examples(name, after=example_id - 1, limit=1)
    if not found or found[0].id != example_id:
        raise NotFoundError(
            f"collection {name!r} has no example #{example_id}",
            details={"field": "id", "value": example_id},
        )
    return found[0]


@router.get("/examples/{name}/examples/{example_id}")
def edit_example_page(
    request: Request, name: str, example_id: int, vault: VaultDep, user: UserDep
) -> Response:
    """The form to change one example."""
    require_permission(user, Permission.WRITE)
    return page(
        request,
        "example_edit.html",
        {
            "c": vault.examples.get(name),
            "e": _one(vault, name, example_id),
            "collection_url": collection_url,
        },
    )


@router.post("/examples/{name}/examples/{example_id}")
async def edit_example(
    request: Request, name: str, example_id: int, vault: VaultDep, user: UserDep
) -> Response:
    """Save one example's fields (a new input is re-embedded), or delete it."""
    form = await checked_form(request, user, Permission.WRITE)
    if form.get("delete") == "1":
        await run_in_threadpool(
            lambda: vault.examples.remove(name, [example_id], actor=user.key.name)
        )
        return flash(redirect(collection_url(name)), f"Deleted example #{example_id}")
    changes = {
        "input": form_text(form, "input"),
        "output": form_text(form, "output"),
        "category": _optional(form, "category"),
        "quality": _quality(form),
    }
    await run_in_threadpool(
        lambda: vault.examples.edit(name, example_id, actor=user.key.name, **changes)
    )
    return flash(redirect(collection_url(name)), f"Saved example #{example_id}")


@router.post("/examples/{name}/import")
async def import_examples(request: Request, name: str, vault: VaultDep, user: UserDep) -> Response:
    """Import an uploaded JSONL or CSV file; the page lists the rows that were refused."""
    form = await checked_form(request, user, Permission.WRITE)
    text, filename = await uploaded_text(form, "file", MAX_UPLOAD)
    report = await run_in_threadpool(
        lambda: vault.examples.import_text(name, text, filename=filename, actor=user.key.name)
    )
    return page(
        request,
        "import_report.html",
        {"c": vault.examples.get(name), "report": report, "collection_url": collection_url},
        status=200 if report.added or not report.errors else 422,
    )


@router.post("/examples/{name}/embedder")
async def switch_embedder(request: Request, name: str, vault: VaultDep, user: UserDep) -> Response:
    """Switch the collection to another embedder and re-embed every example."""
    form = await checked_form(request, user, Permission.WRITE)
    embedder = form_text(form, "embedder")
    changed = await run_in_threadpool(
        lambda: vault.examples.set_embedder(name, embedder, actor=user.key.name)
    )
    return flash(
        redirect(collection_url(name)),
        f"{name} now uses {changed.embedder} ({changed.size} examples re-embedded)",
    )


@router.post("/examples/{name}/delete")
async def delete_collection(
    request: Request, name: str, vault: VaultDep, user: UserDep
) -> Response:
    """Delete the collection and its examples (the form asks to type its name)."""
    form = await checked_form(request, user, Permission.WRITE)
    if form_text(form, "confirm").strip() != name:
        raise InvalidInputError(
            f"type the collection's name ({name}) to delete it", details={"field": "confirm"}
        )
    await run_in_threadpool(lambda: vault.examples.delete(name, actor=user.key.name))
    return flash(redirect("/examples"), f"Deleted collection {name}")
