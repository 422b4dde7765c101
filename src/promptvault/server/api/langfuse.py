"""Langfuse's prompt API (``/api/public/v2/prompts``), so the Langfuse SDK works unchanged.

Point the SDK at promptvault (``host=``) with the key pair ``promptvault keys create NAME
--langfuse`` prints. Requests authenticate with HTTP Basic (public key : secret key), which
is the promptvault key written in two halves, and are checked and audited as on ``/v1``:
reading one prompt is a resolve (runtime keys may), listing needs ``read``, creating and
moving labels ``write`` (protected labels: admin). Errors answer in Langfuse's shape (see
:mod:`promptvault.server.errors`).

What differs from Langfuse, by design: the first version of a prompt gets ``production``
as every promptvault prompt does; a create identical to the newest version creates nothing
(200 instead of 201); labels follow promptvault's label rules; prompt dependencies
(``@@@langfusePrompt...@@@``) are kept as text.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from promptvault.entities import MAX_INT, ApiKey, PromptSummary, PromptVersion
from promptvault.errors import InvalidInputError, LabelNotFound, PromptNotFound
from promptvault.registry.keys import from_langfuse_pair
from promptvault.registry.refs import DEFAULT_LABEL, LATEST
from promptvault.registry.resolver import archived_prompt
from promptvault.server.api.langfuse_shapes import (
    LANGFUSE_ERRORS,
    CreateLangfusePrompt,
    UpdateLangfuseLabels,
    langfuse_messages,
    langfuse_meta,
    langfuse_prompt,
)
from promptvault.server.auth import (
    Permission,
    authorize_key,
    check_direct_move,
    check_labels,
    client_address,
    presented_key,
)
from promptvault.server.deps import SettingsDep, VaultDep
from promptvault.vault import Vault

__all__ = ["langfuse_plaintext", "router"]

router = APIRouter(prefix="/api/public/v2/prompts", tags=["langfuse"], responses=LANGFUSE_ERRORS)


def langfuse_plaintext(request: Request) -> str | None:
    """The promptvault key a request presents: a Langfuse Basic pair, or a plain key."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return presented_key(request)
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return "malformed"  # refused as a malformed key, and counted as a failure
    public, _, secret = decoded.partition(":")
    return from_langfuse_pair(public, secret) or "malformed"


def _require(permission: Permission) -> Callable[[Request], Awaitable[ApiKey]]:
    async def dependency(request: Request) -> ApiKey:
        key = await authorize_key(
            request.app.state.keys,
            langfuse_plaintext(request),
            permission,
            guard=getattr(request.app.state, "auth_guard", None),
            client=client_address(request.scope),
        )
        request.state.api_key = key
        return key

    dependency.__name__ = f"langfuse_{permission.value}"
    return dependency


Resolver = Annotated[ApiKey, Depends(_require(Permission.RESOLVE))]
Reader = Annotated[ApiKey, Depends(_require(Permission.READ))]
Writer = Annotated[ApiKey, Depends(_require(Permission.WRITE))]


class _Summaries:
    """Prompt summaries (labels, tags, newest version), kept while nothing changed.

    A Langfuse SDK fetches a prompt every time its own cache expires; answering from here
    keeps that fetch off the database, as ``/v1`` resolves are. An entry is kept for at
    most ``ttl`` seconds (the label TTL) and only while the Vault's resolver has not been
    invalidated since it was read: a write through this server, on any route, or a change
    event heard from another process drops it at once, so a moved or removed label is
    never answered from here after its change.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[PromptSummary, float, int]] = {}

    def get(self, vault: Vault, name: str) -> PromptSummary:
        now = time.monotonic()
        generation = vault.registry.resolver.generation
        hit = self._items.get(name)
        if hit is not None and hit[1] > now and hit[2] == generation:
            return hit[0]
        summary = vault.get_prompt(name)
        if len(self._items) > 10_000:  # bounded: many names cannot grow it without end
            self._items.clear()
        self._items[name] = (summary, now + self.ttl, generation)
        return summary

    def fresh(self, vault: Vault, name: str) -> bool:
        """Whether :meth:`get` would answer from memory (no database read)."""
        hit = self._items.get(name)
        return (
            hit is not None
            and hit[1] > time.monotonic()
            and hit[2] == vault.registry.resolver.generation
        )

    def forget(self, name: str) -> None:
        self._items.pop(name, None)


async def _summaries(request: Request) -> _Summaries:
    state = request.app.state
    cache: _Summaries | None = getattr(state, "langfuse_summaries", None)
    if cache is None:
        cache = state.langfuse_summaries = _Summaries(state.settings.label_ttl)
    return cache


Summaries = Annotated[_Summaries, Depends(_summaries)]


def _answer(vault: Vault, summaries: _Summaries, name: str, number: int) -> dict[str, Any]:
    summaries.forget(name)  # just written: read labels and tags fresh
    return langfuse_prompt(vault.get(name, version=number), summaries.get(vault, name))


@router.get("")
def list_prompts(
    *,
    vault: VaultDep,
    _key: Reader,
    name: str | None = None,
    label: str | None = None,
    tag: str | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_INT)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    from_updated_at: Annotated[datetime | None, Query(alias="fromUpdatedAt")] = None,
    to_updated_at: Annotated[datetime | None, Query(alias="toUpdatedAt")] = None,
) -> dict[str, Any]:
    """Prompts with the versions and labels that match, in Langfuse's ``data`` + ``meta``."""
    if name is not None:
        try:
            summaries = [vault.get_prompt(name)]
        except (PromptNotFound, InvalidInputError):  # no such prompt, or no such name
            summaries = []
        summaries = [s for s in summaries if not s.archived]
    else:
        summaries = vault.list_prompts(tag=tag, limit=None)
    if tag is not None:
        summaries = [s for s in summaries if tag in s.tags]

    def matches(summary: PromptSummary, version: PromptVersion) -> bool:
        if label is not None:
            on = summary.latest_version if label == LATEST else summary.labels.get(label)
            if on != version.version:
                return False
        if from_updated_at is not None and version.created_at < _aware(from_updated_at):
            return False
        return to_updated_at is None or version.created_at < _aware(to_updated_at)

    version_filters = label is not None or from_updated_at or to_updated_at
    if version_filters:
        found = [(s, [v for v in vault.versions(s.name) if matches(s, v)]) for s in summaries]
        kept = [(s, vs) for s, vs in found if vs]
        total, shown = len(kept), kept[(page - 1) * limit : page * limit]
    else:
        total = len(summaries)
        window = summaries[(page - 1) * limit : page * limit]
        shown = [(s, vault.versions(s.name)) for s in window]
    return {
        "data": [langfuse_meta(s, vs) for s, vs in shown if vs],
        "meta": {
            "page": page,
            "limit": limit,
            "totalItems": total,
            "totalPages": math.ceil(total / limit),
        },
    }


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@router.post(
    "",
    status_code=201,
    responses={200: {"description": "Identical to the newest version: nothing new"}},
)
def create_prompt(
    *,
    body: CreateLangfusePrompt,
    response: Response,
    vault: VaultDep,
    settings: SettingsDep,
    summaries: Summaries,
    key: Writer,
) -> dict[str, Any]:
    """A new version of the prompt ``name`` (the prompt is created by its first)."""
    kind = body.type or ("chat" if isinstance(body.prompt, list) else "text")
    if kind == "chat" and not isinstance(body.prompt, list):
        raise InvalidInputError("a chat prompt is a list of messages", details={"field": "prompt"})
    if kind == "text" and not isinstance(body.prompt, str):
        raise InvalidInputError("a text prompt is a string", details={"field": "prompt"})
    config = {} if body.config is None else body.config
    if not isinstance(config, dict):
        raise InvalidInputError("config must be a JSON object", details={"field": "config"})
    labels = body.labels or []
    check_labels(key, labels, settings.protected_labels)
    check_direct_move(labels, settings.approval_labels)
    template = body.prompt if isinstance(body.prompt, str) else langfuse_messages(body.prompt)
    result = vault.push(
        body.name,
        template=template,
        syntax="langfuse",
        type=kind,
        config=config,
        message=body.commit_message or "",
        author=key.name,
        tags=body.tags,
        labels=labels,
    )
    if not result.created:
        response.status_code = 200
    return _answer(vault, summaries, body.name, result.version.version)


@router.patch("/{name:path}/versions/{version}")
def update_labels(
    *,
    name: str,
    version: Annotated[int, Path(ge=1, le=MAX_INT)],
    body: UpdateLangfuseLabels,
    vault: VaultDep,
    settings: SettingsDep,
    summaries: Summaries,
    key: Writer,
) -> dict[str, Any]:
    """Point ``newLabels`` at this version (moved from wherever they were), all at once."""
    check_labels(key, body.new_labels, settings.protected_labels)
    check_direct_move(body.new_labels, settings.approval_labels)
    vault.set_labels(name, body.new_labels, version, actor=key.name)
    return _answer(vault, summaries, name, version)


def _one(
    vault: Vault, summaries: _Summaries, name: str, version: int | None, label: str | None
) -> bytes:
    summary = summaries.get(vault, name)
    if summary.archived:
        raise archived_prompt(name)
    if version is None:
        wanted = label or DEFAULT_LABEL
        at = summary.latest_version if wanted == LATEST else summary.labels.get(wanted)
        if at is None:
            raise LabelNotFound(
                f"prompt {name!r} has no label {wanted!r}",
                details={"name": name, "label": wanted},
            )
        version = at
    return json.dumps(langfuse_prompt(vault.get(name, version=version), summary)).encode()


@router.get(
    "/{name:path}",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "The version"}},
)
async def get_prompt(
    *,
    name: str,
    vault: VaultDep,
    summaries: Summaries,
    _key: Resolver,
    version: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
    label: str | None = None,
    resolve: bool = True,  # accepted: there are no dependencies to resolve
) -> Response:
    """One version: by ``version``, by ``label``, else the ``production`` one."""
    if version is not None and label is not None:
        raise InvalidInputError(
            "give either version or label, not both", details={"field": "label"}
        )
    # Within the label TTL the summary is in memory and versions are cached for good:
    # answer on the event loop, as /v1 resolves do. Otherwise read in a worker thread.
    if summaries.fresh(vault, name):
        body = _one(vault, summaries, name, version, label)
    else:
        body = await run_in_threadpool(_one, vault, summaries, name, version, label)
    return Response(body, media_type="application/json")
