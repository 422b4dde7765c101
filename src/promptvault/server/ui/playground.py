"""The playground: pick a version, fill in its variables, see the exact provider requests.

The form is generated from the version's variables schema (or the schema inferred from the
template); rendering takes the steps of :meth:`Vault.build` (:func:`build_like_vault`) with the
collection attached to the prompt, so the OpenAI and Anthropic request JSON shown is exactly
what ``build`` sends. Objects of booleans get a checkbox per flag, chat placeholders such as
``history`` a box of earlier turns, and required variables left empty are an error that
names them, not a blank render.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from promptvault.builder import BuiltRequest
from promptvault.entities import PromptVersion
from promptvault.errors import InvalidInputError, MissingVariablesError, PromptVaultError
from promptvault.fewshot.models import parse_examples_spec
from promptvault.registry.refs import parse_int
from promptvault.server.auth import Permission
from promptvault.server.deps import VaultDep
from promptvault.server.ui.views import (
    UIRoute,
    UserDep,
    check_csrf,
    page,
    require_permission,
)
from promptvault.templating.builtins import BUILTIN_NAMES
from promptvault.vault import Vault

__all__ = ["Field", "Flag", "build_like_vault", "form_fields", "parse_turns", "read_form", "router"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)
_BUILTINS = BUILTIN_NAMES


@dataclass(frozen=True, slots=True)
class Flag:
    """One checkbox of an object of booleans (``tier.gold``)."""

    name: str
    checked: bool
    description: str = ""


@dataclass(frozen=True, slots=True)
class Field:
    """One input of the variables form.

    ``flags`` widgets are objects whose properties are all booleans: a checkbox each.
    ``messages`` widgets fill a chat placeholder (``history``) with earlier turns.
    """

    name: str
    widget: str  # text | textarea | number | checkbox | select | json | flags | messages
    description: str = ""
    options: tuple[str, ...] = ()
    value: str = ""
    builtin: bool = False
    required: bool = False
    flags: tuple[Flag, ...] = ()


def _is_flags(prop: dict[str, Any]) -> bool:
    props = prop.get("properties")
    if prop.get("type") != "object" or not isinstance(props, dict) or not props:
        return False
    return all(isinstance(p, dict) and p.get("type") == "boolean" for p in props.values())


def _widget(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return "select"
    if _is_flags(prop):
        return "flags"
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


def _flags(prop: dict[str, Any], submitted: set[str] | None) -> tuple[Flag, ...]:
    """The checkboxes of an object of booleans: as submitted, else the schema's defaults."""
    defaults = _default(prop)
    defaults = defaults if isinstance(defaults, dict) else {}
    out = []
    for sub, spec in prop["properties"].items():
        if submitted is not None:
            checked = sub in submitted
        else:
            checked = bool(spec.get("default", defaults.get(sub, False)))
        out.append(Flag(str(sub), checked, str(spec.get("description", ""))))
    return tuple(out)


def form_fields(
    variables: list[str],
    schema: dict[str, Any],
    submitted: dict[str, Any] | None = None,
    placeholders: tuple[str, ...] = (),
) -> list[Field]:
    """Inputs for every variable the template reads (built-ins last, optional).

    ``submitted`` holds the texts a person entered (for flags: the set of checked names),
    shown again as they were. ``placeholders`` are the chat template's message slots
    other than ``examples`` (filled by the attached collection): one box of turns each.
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
        if widget == "flags":
            given = submitted.get(name)
            out.append(
                Field(
                    name=name,
                    widget=widget,
                    description=str(prop.get("description", "")),
                    flags=_flags(prop, given if isinstance(given, set) else None),
                )
            )
            continue
        value = submitted[name] if name in submitted else _shown(_default(prop), widget)
        options = tuple(str(o) for o in prop.get("enum", ()))
        out.append(
            Field(
                name=name,
                widget=widget,
                description=str(prop.get("description", "")),
                options=options,
                value=str(value),
                builtin=name in _BUILTINS,
                required=name in required
                and name not in _BUILTINS
                and widget not in ("checkbox", "select"),
            )
        )
    for name in placeholders:
        if name == "examples":
            continue
        out.append(
            Field(
                name=name,
                widget="messages",
                description="Earlier turns, one per line as 'user: …' or 'assistant: …', "
                "or a JSON list of messages. Empty: no earlier turns.",
                value=str(submitted.get(name, "")),
            )
        )
    return out


_TURN = re.compile(r"^(system|user|assistant)\s*:\s?(.*)$", re.IGNORECASE)


def parse_turns(field: str, text: str) -> list[dict[str, Any]]:
    """Turns typed into a placeholder box: a JSON list, or ``role: text`` lines.

    A line that starts with no role continues the message above it.
    """
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            turns = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                f"{field} is not valid JSON: {exc.msg}",
                details={"field": field, "line": exc.lineno, "column": exc.colno},
            ) from None
        if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
            raise InvalidInputError(f"{field} must be a list of messages", details={"field": field})
        return turns
    out: list[dict[str, Any]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        match = _TURN.match(line)
        if match:
            out.append({"role": match.group(1).lower(), "content": match.group(2)})
        elif out:
            out[-1]["content"] += "\n" + line
        else:
            raise InvalidInputError(
                f"{field}: line {number} must start with 'user:', 'assistant:' or 'system:'",
                details={"field": field, "line": number},
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
    if field.required and not text.strip():
        return False, None
    return True, text


def read_form(
    fields: list[Field], form: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The variables and placeholder turns of a submitted form.

    A required variable left empty is an error that names every such variable, before
    anything is rendered: a blank render would look like a result.
    """
    values: dict[str, Any] = {}
    turns: dict[str, list[dict[str, Any]]] = {}
    missing = []
    for field in fields:
        if field.widget == "flags":
            values[field.name] = {
                f.name: form.get(f"var_{field.name}.{f.name}") == "1" for f in field.flags
            }
            continue
        raw = form.get(f"var_{field.name}")
        if field.widget == "messages":
            turns[field.name] = parse_turns(field.name, raw if isinstance(raw, str) else "")
            continue
        present, value = _parse_value(field, raw)
        if present:
            values[field.name] = value
        elif field.required:
            missing.append({"name": field.name, "kind": "variable"})
    if missing:
        names = ", ".join(m["name"] for m in missing)
        raise MissingVariablesError(missing, message=f"fill in the required variables: {names}")
    return values, turns


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A version and what its form is made of."""

    version: PromptVersion
    variables: list[str]
    schema: dict[str, Any]
    placeholders: tuple[str, ...]
    collections: list[str]  # the few-shot collections attached to the prompt

    def fields(self, submitted: dict[str, Any] | None = None) -> list[Field]:
        return form_fields(self.variables, self.schema, submitted, self.placeholders)


def _load(vault: Vault, name: str, v: int | None) -> _Loaded:
    version = vault.get(name, version=v) if v else vault.get(name)
    placeholders: tuple[str, ...] = ()
    try:
        compiled = vault.registry.resolver.compiled(f"{name}@{version.version}").template
        variables = sorted(compiled.variables)
        inferred = compiled.schema()
        placeholders = tuple(getattr(compiled, "placeholders", ()))
    except PromptVaultError:
        variables, inferred = [], {}
    schema = version.variables_schema or inferred
    collections = [c.name for c in vault.examples.list(prompt=name)]
    return _Loaded(version, variables, schema, placeholders, collections)


def build_like_vault(
    vault: Vault,
    version: PromptVersion,
    values: dict[str, Any],
    *,
    collection: str | None,
    history: list[dict[str, Any]] | None,
    history_placeholder: str = "history",
) -> BuiltRequest:
    """What ``vault.build(ref, values, examples=collection, history=history)`` returns.

    The same steps as :meth:`Vault.build` (partials from the registry, examples chosen by
    the collection's own defaults) without counting the examples as used: trying a prompt
    out is not traffic.
    """
    ref = f"{version.name}@{version.version}"
    resolved = vault.registry.resolver.get(ref)
    partials = vault.registry.resolver.partial_sources(resolved)
    if collection is None:
        return vault.builder.build(
            resolved,
            values,
            history=history,
            history_placeholder=history_placeholder,
            partials=partials,
        )
    picked = vault.examples.select(
        parse_examples_spec(collection),
        values,
        prompt=resolved.name,
        as_messages=not vault.builder.reads_examples(resolved),
    )
    return vault.builder.build(
        resolved,
        values,
        examples=picked.examples,
        examples_reason=picked.reason,
        example_template=picked.template,
        history=history,
        history_placeholder=history_placeholder,
        partials=partials,
        collection=picked.collection,
        strategy=picked.strategy,
    )


def _page(
    request: Request,
    vault: Vault,
    name: str,
    loaded: _Loaded,
    fields: list[Field],
    *,
    collection: str | None,
    **extra: Any,
) -> Response:
    summary = vault.get_prompt(name)
    user = getattr(request.state, "ui_user", None)
    # Calling a model costs money: the Run button is for writers, when a provider exists.
    providers = [p.name for p in vault.evals.providers()] if user and user.can_write else []
    return page(
        request,
        "playground.html",
        {
            "prompt": summary,
            "version": loaded.version,
            "numbers": list(range(summary.latest_version or 1, 0, -1)),
            "fields": fields,
            "collections": loaded.collections,
            "collection": collection,
            "built": None,
            "openai": None,
            "anthropic": None,
            "error": None,
            "providers": providers,
            "provider": None,
            "answer": None,
            "run_error": None,
            **extra,
        },
        status=422 if extra.get("error") else 200,
    )


def _default_collection(loaded: _Loaded) -> str | None:
    # What ``build(..., examples={})`` would use: the one collection attached to the prompt.
    return loaded.collections[0] if len(loaded.collections) == 1 else None


@router.get("/play/{name:path}")
def playground(
    request: Request, name: str, vault: VaultDep, user: UserDep, v: int | None = None
) -> Response:
    """The variables form for a version (default: production)."""
    loaded = _load(vault, name, v)
    return _page(
        request, vault, name, loaded, loaded.fields(), collection=_default_collection(loaded)
    )


def _adapter(fn: Any) -> tuple[str | None, str | None]:
    try:
        return json.dumps(fn(), indent=2, ensure_ascii=False, default=str), None
    except PromptVaultError as error:
        return None, error.message


def _submitted(fields: list[Field], form: Mapping[str, Any]) -> dict[str, Any]:
    """What a person entered, to show it again: texts, and the checked flags."""
    out: dict[str, Any] = {}
    for field in fields:
        if field.widget == "flags":
            out[field.name] = {
                f.name for f in field.flags if form.get(f"var_{field.name}.{f.name}") == "1"
            }
            continue
        raw = form.get(f"var_{field.name}")
        out[field.name] = raw.replace("\r\n", "\n") if isinstance(raw, str) else ""
    return out


def _chosen_collection(loaded: _Loaded, raw: Any) -> str | None:
    if not isinstance(raw, str):
        return _default_collection(loaded)
    if raw == "":
        return None
    if raw not in loaded.collections:
        raise InvalidInputError(
            f"collection {raw!r} is not attached to {loaded.version.name!r}",
            details={"field": "collection", "attached": loaded.collections},
        )
    return raw


@router.post("/play/{name:path}")
async def play(request: Request, name: str, vault: VaultDep, user: UserDep) -> Response:
    """Render with the submitted variables and show the messages and provider requests."""
    form = await check_csrf(request, user)
    v_raw = form.get("v")
    v = parse_int(v_raw, field="v", minimum=1) if isinstance(v_raw, str) and v_raw else None
    loaded = await run_in_threadpool(_load, vault, name, v)
    blank = loaded.fields()
    fields = loaded.fields(_submitted(blank, form))
    collection = _default_collection(loaded)
    try:
        collection = _chosen_collection(loaded, form.get("collection"))
        values, turns = read_form(blank, form)
        slot, history = next(iter(turns.items()), ("history", None))
        built = await run_in_threadpool(
            lambda: build_like_vault(
                vault,
                loaded.version,
                values,
                collection=collection,
                history=history,
                history_placeholder=slot,
            )
        )
    except PromptVaultError as error:
        return _page(request, vault, name, loaded, fields, collection=collection, error=error)
    openai_json, openai_error = _adapter(built.to_openai)
    anthropic_json, anthropic_error = _adapter(built.to_anthropic)
    answer = run_error = provider = None
    if form.get("action") == "run":
        require_permission(user, Permission.WRITE)
        raw = form.get("provider")
        provider = raw if isinstance(raw, str) and raw else None
        try:
            answer = await run_in_threadpool(vault.evals.complete, built, provider=provider)
        except PromptVaultError as error:
            run_error = error
    return _page(
        request,
        vault,
        name,
        loaded,
        fields,
        collection=collection,
        built=built,
        openai=openai_json,
        openai_error=openai_error,
        anthropic=anthropic_json,
        anthropic_error=anthropic_error,
        answer=answer,
        run_error=run_error,
        provider=provider,
    )
