"""``langfuse``: every prompt, version and label of a running Langfuse, through its public API.

Reads ``GET /api/public/v2/prompts`` page by page, then each version with
``GET /api/public/v2/prompts/{name}?version=N``, authenticated with the project's key pair.
Versions keep their numbers, authors (``createdBy``), times, commit messages and config;
labels and tags are kept; templates are stored with the ``langfuse`` syntax so they render
as Langfuse's ``compile()`` does. The standard library's HTTP client is enough here, so the
core needs no HTTP package.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode
from urllib.request import Request, urlopen

from promptvault.errors import InvalidInputError, PromptUnavailable, PromptVaultError
from promptvault.registry.importers import Source
from promptvault.registry.importers._build import ForeignVersion, prompt_item
from promptvault.registry.refs import check_name

__all__ = ["read_langfuse"]

_PAGE = 100
_TIMEOUT = 30.0


class _Api:
    def __init__(self, host: str, public_key: str, secret_key: str) -> None:
        if not host.startswith(("http://", "https://")):
            raise InvalidInputError(
                f"--host {host!r} must be an http:// or https:// address",
                details={"field": "host", "value": host},
            )
        self.base = host.rstrip("/") + "/api/public/v2/prompts"
        token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}

    def get(self, path: str, query: dict[str, Any]) -> Any:
        url = f"{self.base}{path}?{urlencode(query)}"
        request = Request(url, headers=self.headers)  # noqa: S310 - http(s) checked above
        try:
            with urlopen(request, timeout=_TIMEOUT) as answer:  # noqa: S310
                return json.loads(answer.read().decode("utf-8"))
        except HTTPError as exc:
            try:
                said = json.loads(exc.read().decode("utf-8")).get("message", "")
            except (ValueError, AttributeError):
                said = ""
            raise InvalidInputError(
                f"Langfuse answered {exc.code} for {url}: {said or exc.reason}",
                details={"field": "host", "status": exc.code},
            ) from None
        except (URLError, OSError, ValueError) as exc:
            raise PromptUnavailable(
                f"cannot read {url}: {exc}", details={"field": "host"}
            ) from None


def _messages(prompt: list[Any], where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, item in enumerate(prompt):
        if not isinstance(item, dict):
            raise InvalidInputError(f"{where}: message {index} is not an object")
        if item.get("type") == "placeholder":
            out.append({"type": "placeholder", "name": item.get("name")})
        else:
            out.append({k: v for k, v in item.items() if k != "type"})
    return out


def read_langfuse(host: str, *, public_key: str, secret_key: str) -> Source:
    """Every prompt of the Langfuse project the key pair belongs to."""
    api = _Api(host, public_key, secret_key)
    metas: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = api.get("", {"page": page, "limit": _PAGE})
        metas.extend(answer.get("data") or [])
        if page >= int((answer.get("meta") or {}).get("totalPages") or 0):
            break
        page += 1
    source = Source(prompts=[])
    for meta in metas:
        name = str(meta.get("name"))
        try:
            check_name(name)
        except PromptVaultError as err:
            source.not_carried.append(f"{name}: not a valid promptvault name ({err.message})")
            continue
        versions: list[ForeignVersion] = []
        tags: list[str] = []
        for number in sorted(int(n) for n in meta.get("versions") or []):
            raw = api.get("/" + quote(name, safe=""), {"version": number})
            where = f"{name} version {number}"
            tags = [str(t) for t in raw.get("tags") or []]
            config = raw.get("config")
            if config is None:
                config = {}
            if not isinstance(config, dict):
                source.not_carried.append(f"{where}: config {config!r} is not an object")
                config = {}
            prompt = raw.get("prompt")
            template = prompt if isinstance(prompt, str) else _messages(prompt or [], where)
            if "@@@langfusePrompt" in json.dumps(prompt):
                source.not_carried.append(f"{where}: prompt references are kept as text")
            versions.append(
                ForeignVersion(
                    version=number,
                    template=template,
                    syntax="langfuse",
                    config=config,
                    message=str(raw.get("commitMessage") or ""),
                    author=str(raw.get("createdBy") or ""),
                    created_at=raw.get("createdAt"),
                    labels=[str(x) for x in raw.get("labels") or []],
                )
            )
        if versions:
            source.prompts.append(
                prompt_item(
                    name, versions, tags=tags, actor="", where=name, notes=source.not_carried
                )
            )
    return source
