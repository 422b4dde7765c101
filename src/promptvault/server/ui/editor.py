"""The editor: new prompts and new versions, with a live syntax check and a preview.

``POST /ui/api/check`` takes the editor's form as it stands and answers JSON: the first
problem (message, field, line, column, chat message index), the variables the template
reads, and a preview rendered with the sample variables. Saving pushes through the Vault
with the same checks as ``POST /v1/prompts/{name}/versions``; unchanged content says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from promptvault.config import Settings
from promptvault.errors import (
    ConflictError,
    InvalidInputError,
    MissingVariablesError,
    PromptNotFound,
    PromptVaultError,
)
from promptvault.registry.refs import DEFAULT_LABEL, check_label, parse_int
from promptvault.registry.validation import check_push, compile_content
from promptvault.server.auth import Permission, check_labels
from promptvault.server.deps import SettingsDep, VaultDep
from promptvault.server.ui.draft import ChatRow, Draft, draft_from_version, empty_draft, parse_draft
from promptvault.server.ui.views import (
    SECURITY_HEADERS,
    UIRoute,
    User,
    UserDep,
    check_csrf,
    checked_form,
    flash,
    page,
    prompt_url,
    redirect,
    require_permission,
)
from promptvault.vault import Vault

__all__ = ["partial_source", "router"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)
_ROLES = ("system", "user", "assistant", "tool")


def partial_source(vault: Vault) -> Any:
    """Partials for previews: ``{{> other}}`` is another prompt's production template."""

    def source(ref: str) -> str | None:
        found = vault.get(ref.strip())
        return found.template if isinstance(found.template, str) else None

    return source


def _problem(error: PromptVaultError) -> dict[str, Any]:
    details = error.details
    return {
        "code": error.code,
        "message": getattr(error, "reason", None) or error.message.split("\n")[0],
        "field": details.get("field"),
        "line": details.get("line"),
        "column": details.get("column"),
        "index": details.get("message"),
        "excerpt": details.get("excerpt"),
    }


def _no_partials(_ref: str) -> str:
    return ""  # syntax is checked on its own; included prompts resolve at render time


def check_draft(vault: Vault, draft: Draft) -> dict[str, Any]:
    """What the live check shows: problems, variables and the preview."""
    result: dict[str, Any] = {"ok": True, "error": None, "variables": [], "preview": None}
    try:
        checked = check_push(
            template=draft.template_value(),
            syntax=draft.syntax,
            type=draft.type,
            config=draft.config_value(),
            variables_schema=draft.schema_value(),
            tags=draft.tag_list(),
            labels=None,
            partials=_no_partials,
        )
        sample = draft.sample_value()
    except PromptVaultError as error:
        result.update(ok=False, error=_problem(error))
        return result
    try:
        compiled = compile_content(
            checked.template,
            type=checked.type,
            syntax=checked.syntax,
            partials=partial_source(vault),
            limits=vault.registry.limits,
        )
        result["variables"] = sorted(compiled.variables)
        sample = vault.registry.resolver.builtins.add(sample)  # now/today, as on render
        placeholders = getattr(compiled, "placeholders", ())
        options: dict[str, Any] = {}
        if checked.type == "chat":
            options["placeholders"] = {name: [] for name in placeholders}
        try:
            result["preview"] = compiled.render(sample, **options)
        except MissingVariablesError as missing:
            result["missing"] = missing.names
            result["preview"] = compiled.render(sample, strict=False, **options)
    except PromptVaultError as error:
        result["preview_error"] = _problem(error)
    return result


def _new_row(kind: str) -> ChatRow:
    return ChatRow(kind=kind, role="user" if kind == "message" else "")


def _editor(
    request: Request,
    draft: Draft,
    *,
    is_new: bool,
    base: int | None = None,
    error: PromptVaultError | None = None,
    notice: str = "",
    status: int = 200,
    chosen: list[str] | None = None,
) -> Response:
    return page(
        request,
        "editor.html",
        {
            "draft": draft,
            "is_new": is_new,
            "base": base,
            "error": _problem(error) if error else None,
            "notice": notice,
            "roles": _ROLES,
            "new_row": _new_row,
            "first_labels": [DEFAULT_LABEL] if chosen is None else chosen,
        },
        status=status,
    )


@router.get("/new")
def new_prompt(request: Request, user: UserDep, type: str = "text") -> Response:
    """The editor for a new prompt."""
    require_permission(user, Permission.WRITE)
    return _editor(request, empty_draft(type), is_new=True)


@router.get("/edit/{name:path}")
def edit_prompt(
    request: Request, name: str, vault: VaultDep, user: UserDep, base: int | None = None
) -> Response:
    """The editor, filled with version ``base`` (default: the newest)."""
    require_permission(user, Permission.WRITE)
    summary = vault.get_prompt(name)
    version = vault.get(name, version=base) if base else vault.get(name, label="latest")
    draft = draft_from_version(version, description=summary.description, tags=summary.tags)
    return _editor(request, draft, is_new=False, base=version.version)


async def _save(
    request: Request, vault: Vault, settings: Settings, user: User, name: str | None
) -> Response:
    form = await checked_form(request, user, Permission.WRITE)
    draft = parse_draft(form)
    is_new = name is None
    if name is not None:
        draft.name = name
    base_text = form.get("base")
    base = parse_int(base_text, field="base") if isinstance(base_text, str) and base_text else None
    try:
        if not draft.message:
            raise InvalidInputError(
                "describe the change in a commit message", details={"field": "message"}
            )
        labels: list[str] = []
        default_label = True
        if is_new:
            await _must_be_new(vault, draft.name)
            labels, default_label = _first_labels(form, user, settings.protected_labels)
        result = await run_in_threadpool(
            lambda: vault.push(
                draft.name,
                template=draft.template_value(),
                syntax=draft.syntax,
                type=draft.type,
                config=draft.config_value(),
                variables_schema=draft.schema_value(),
                message=draft.message,
                author=user.key.name,
                tags=draft.tag_list(),
                description=draft.description,
                labels=labels,
                default_label=default_label,
            )
        )
    except PromptVaultError as error:
        return _editor(
            request, draft, is_new=is_new, base=base, error=error, status=422, chosen=_chosen(form)
        )
    if not result.created:
        notice = (
            f"Nothing to save: this is identical to version {result.version.version}, "
            "so no new version was created."
        )
        return _editor(request, draft, is_new=False, base=result.version.version, notice=notice)
    text = f"Saved version {result.version.version} of {result.version.name}"
    return flash(redirect(prompt_url(result.version.name)), text)


def _chosen(form: Mapping[str, Any]) -> list[str]:
    """The labels ticked (and typed) in the new prompt's form, as submitted."""
    getlist = getattr(form, "getlist", None)
    ticked = [str(v) for v in getlist("first_label")] if getlist else []
    extra = str(form.get("first_label_other") or "").replace(",", " ").split()
    return [*ticked, *extra]


def _first_labels(
    form: Mapping[str, Any], user: User, protected: list[str]
) -> tuple[list[str], bool]:
    """``(labels, default_label)`` of a new prompt's first version, from the form.

    ``production`` ticked is the registry's default for a first version (allowed to any
    writer, as over HTTP); every other label is a move with the API's checks.
    """
    if form.get("first_labels_shown") != "1":  # a form without the choice: the default
        return [], True
    chosen = list(dict.fromkeys(_chosen(form)))
    default_label = DEFAULT_LABEL in chosen
    others = [label for label in chosen if label != DEFAULT_LABEL]
    for label in others:
        check_label(label, field="first_label")
    check_labels(user.key, others, protected)
    return others, default_label


async def _must_be_new(vault: Vault, name: str) -> None:
    if not name:
        raise InvalidInputError("give the prompt a name", details={"field": "name"})
    try:
        await run_in_threadpool(vault.get_prompt, name)
    except PromptNotFound:
        return
    raise ConflictError(
        f"a prompt named {name!r} already exists; open it and edit it instead",
        details={"field": "name", "value": name},
    )


@router.post("/new")
async def create_prompt(
    request: Request, vault: VaultDep, settings: SettingsDep, user: UserDep
) -> Response:
    """Create a prompt with its first version (labelled as the form chose)."""
    return await _save(request, vault, settings, user, None)


@router.post("/edit/{name:path}")
async def save_version(
    request: Request, name: str, vault: VaultDep, settings: SettingsDep, user: UserDep
) -> Response:
    """Push a new version from the editor."""
    return await _save(request, vault, settings, user, name)


@router.post("/ui/api/check")
async def check(request: Request, vault: VaultDep, user: UserDep) -> Response:
    """Live check of the editor's form (JSON; needs the CSRF header like any POST)."""
    form = await check_csrf(request, user)
    draft = parse_draft(form)
    result = await run_in_threadpool(check_draft, vault, draft)
    return JSONResponse(result, headers=SECURITY_HEADERS)
