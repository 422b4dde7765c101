"""The playground: pick a version, fill in its variables, see the exact provider requests.

The form is generated from the version's variables schema (or the schema inferred from the
template); rendering goes through the builder (:func:`promptvault.builder.build_request`),
the same code applications use, so the OpenAI and Anthropic request JSON shown is exactly
what they would send.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from promptvault.builder import build_request
from promptvault.entities import PromptVersion
from promptvault.errors import InvalidInputError, PromptVaultError
from promptvault.registry.refs import parse_int
from promptvault.server.deps import SettingsDep, VaultDep
from promptvault.server.ui.editor import partial_source
from promptvault.server.ui.views import UIRoute, User, check_csrf, current_user, page
from promptvault.templating.builtins import BUILTIN_NAMES
from promptvault.vault import Vault

__all__ = ["Field", "form_fields", "router"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)
UserDep = Annotated[User, Depends(current_user)]
_BUILTINS = BUILTIN_NAMES


@dataclass(frozen=True, slots=True)
class Field:
    """One input of the variables form."""

    name: str
    widget: str  # text | textarea | number | checkbox | select | json
    description: str = ""
    options: tuple[str, ...] = ()
    value: str = ""
    builtin: bool = False
    required: bool = False


def _widget(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return "select"
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "boolean":
        return "checkbox"
    if kind in ("integer", "number"):
        return "number"
    if kind in ("array", "object"):
        return "json"
    return "textarea"


def _shown(value: Any, widget: str) -> str:
    if value is None:
        return ""
    if widget == "checkbox":
        return "1" if value else ""
    if widget == "json" or not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return value


def _default(prop: dict[str, Any]) -> Any:
    if "default" in prop:
        return prop["default"]
    examples = prop.get("examples")
    return examples[0] if isinstance(examples, list) and examples else None


def form_fields(
    variables: list[str], schema: dict[str, Any], submitted: dict[str, str] | None = None
) -> list[Field]:
    """Inputs for every variable the template reads (built-ins last, optional).

    ``submitted`` holds the texts a person entered, shown again as they were.
    """
    submitted = submitted or {}
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = set(schema.get("required") or ())
    names = sorted(set(variables) | set(props or {}), key=lambda n: (n in _BUILTINS, n))
    out = []
    for name in names:
        prop = (props or {}).get(name)
        prop = prop if isinstance(prop, dict) else {}
        widget = _widget(prop)
        value = submitted[name] if name in submitted else _shown(_default(prop), widget)
        options = tuple(str(o) for o in prop.get("enum", ()))
        out.append(
            Field(
                name=name,
                widget=widget,
                description=str(prop.get("description", "")),
                options=options,
                value=value,
                builtin=name in _BUILTINS,
                required=name in required,
            )
        )
    return out


def _parse_value(field: Field, raw: Any) -> tuple[bool, Any]:
    """``(present, value)`` of one submitted input."""
    if field.widget == "checkbox":
        return True, raw == "1"
    if raw is None:
        return False, None  # not submitted at all (browsers always send empty fields)
    text = raw if isinstance(raw, str) else ""
    text = text.replace("\r\n", "\n")
    if field.builtin and not text:
        return False, None
    if field.widget == "number":
        if not text.strip():
            return False, None
        try:
            number = json.loads(text)
        except json.JSONDecodeError:
            number = None
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise InvalidInputError(f"{field.name} must be a number", details={"field": field.name})
        return True, number
    if field.widget == "json":
        if not text.strip():
            return False, None
        try:
            return True, json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                f"{field.name} is not valid JSON: {exc.msg}",
                details={"field": field.name, "line": exc.lineno, "column": exc.colno},
            ) from None
    return True, text


def _version_and_fields(
    vault: Vault, name: str, v: int | None
) -> tuple[PromptVersion, list[str], dict[str, Any]]:
    version = vault.get(name, version=v) if v else vault.get(name)
    try:
        compiled = vault.registry.resolver.compiled(f"{name}@{version.version}").template
        variables = sorted(compiled.variables)
        inferred = compiled.schema()
    except PromptVaultError:
        variables, inferred = [], {}
    schema = version.variables_schema or inferred
    return version, variables, schema


def _page(
    request: Request,
    vault: Vault,
    name: str,
    version: PromptVersion,
    fields: list[Field],
    **extra: Any,
) -> Response:
    summary = vault.get_prompt(name)
    return page(
        request,
        "playground.html",
        {
            "prompt": summary,
            "version": version,
            "numbers": list(range(summary.latest_version or 1, 0, -1)),
            "fields": fields,
            "built": None,
            "openai": None,
            "anthropic": None,
            "error": None,
            **extra,
        },
        status=422 if extra.get("error") else 200,
    )


@router.get("/play/{name:path}")
def playground(
    request: Request, name: str, vault: VaultDep, user: UserDep, v: int | None = None
) -> Response:
    """The variables form for a version (default: production)."""
    version, variables, schema = _version_and_fields(vault, name, v)
    return _page(request, vault, name, version, form_fields(variables, schema))


def _adapter(fn: Any) -> tuple[str | None, str | None]:
    try:
        return json.dumps(fn(), indent=2, ensure_ascii=False, default=str), None
    except PromptVaultError as error:
        return None, error.message


@router.post("/play/{name:path}")
async def play(
    request: Request, name: str, vault: VaultDep, settings: SettingsDep, user: UserDep
) -> Response:
    """Render with the submitted variables and show the messages and provider requests."""
    form = await check_csrf(request, user)
    v_raw = form.get("v")
    v = parse_int(v_raw, field="v", minimum=1) if isinstance(v_raw, str) and v_raw else None
    version, variables, schema = await run_in_threadpool(_version_and_fields, vault, name, v)
    blank = form_fields(variables, schema)
    submitted = {}
    for field in blank:
        raw = form.get(f"var_{field.name}")
        submitted[field.name] = raw.replace("\r\n", "\n") if isinstance(raw, str) else ""
    fields = form_fields(variables, schema, submitted)
    values: dict[str, Any] = {}
    try:
        for field in blank:
            present, value = _parse_value(field, form.get(f"var_{field.name}"))
            if present:
                values[field.name] = value
    except PromptVaultError as error:
        return _page(request, vault, name, version, fields, error=error)
    try:
        built = await run_in_threadpool(
            lambda: build_request(
                version, values, timezone=settings.timezone, partials=partial_source(vault)
            )
        )
    except PromptVaultError as error:
        return _page(request, vault, name, version, fields, error=error)
    openai_json, openai_error = _adapter(built.to_openai)
    anthropic_json, anthropic_error = _adapter(built.to_anthropic)
    return _page(
        request,
        vault,
        name,
        version,
        fields,
        built=built,
        openai=openai_json,
        openai_error=openai_error,
        anthropic=anthropic_json,
        anthropic_error=anthropic_error,
    )
