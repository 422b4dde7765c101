"""A fake promptvault server behind ``httpx.MockTransport``: the network edge, nothing else.

The fake answers ``GET .../resolve`` like the real server (JSON version, ETag, 304 on a
matching If-None-Match, 404 in the real error shape) and can be switched to fail the way a
real network does: connection refused, timeouts, 5xx.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import httpx

BASE = "http://pv.test"


class FakeClock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def version_json(name: str, number: int, template: Any, **extra: Any) -> dict[str, Any]:
    """A PromptVersion as the server sends it."""
    digest = hashlib.sha256(json.dumps([name, number, template]).encode()).hexdigest()
    body = {
        "name": name,
        "version": number,
        "type": "chat" if isinstance(template, list) else "text",
        "syntax": "mustache",
        "template": template,
        "config": {"model": "gpt-4o"},
        "variables_schema": None,
        "message": "",
        "author": "tester",
        "created_at": datetime(2024, 1, 1, tzinfo=UTC).isoformat(),
        "hash": digest,
        "labels": [],
    }
    body.update(extra)
    return body


class FakeServer:
    """Prompts, labels and failure switches; records every request it sees."""

    def __init__(self) -> None:
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self.labels: dict[str, dict[str, int]] = {}
        self.requests: list[httpx.Request] = []
        self.fail: str | None = None  # "refused", "timeout", "500", "503"
        self.gate: threading.Event | None = None  # when set, resolve waits on it
        self.handler: Callable[[httpx.Request], httpx.Response] | None = None
        self.lock = threading.Lock()

    def add(self, name: str, template: Any, *, labels: tuple[str, ...] = ()) -> int:
        versions = self.versions.setdefault(name, [])
        number = len(versions) + 1
        versions.append(version_json(name, number, template))
        for label in labels or (("production",) if number == 1 else ()):
            self.labels.setdefault(name, {})[label] = number
        return number

    def move(self, name: str, label: str, number: int) -> None:
        self.labels[name][label] = number

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def resolves(self) -> int:
        return sum(1 for r in self.requests if r.url.path.endswith("/resolve"))

    def _handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        if self.fail == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if self.fail in {"500", "503"}:
            code = int(self.fail)
            return httpx.Response(code, json=_error("unavailable", "down"), request=request)
        if self.handler is not None:
            return self.handler(request)
        path = unquote(request.url.path)
        if path.startswith("/v1/prompts/") and path.endswith("/resolve"):
            return self._resolve(request, path[len("/v1/prompts/") : -len("/resolve")])
        return httpx.Response(404, json=_error("not_found", "no route"), request=request)

    def _resolve(self, request: httpx.Request, name: str) -> httpx.Response:
        if name not in self.versions:
            return httpx.Response(
                404, json=_error("prompt_not_found", f"no prompt named {name!r}", name=name)
            )
        version = request.url.params.get("version")
        label = request.url.params.get("label") or "production"
        if version is not None:
            number = int(version)
            if number > len(self.versions[name]):
                return httpx.Response(404, json=_error("version_not_found", "no version"))
        else:
            found = self.labels.get(name, {}).get(label)
            if found is None:
                return httpx.Response(404, json=_error("label_not_found", "no label"))
            number = found
        body = dict(self.versions[name][number - 1])
        body["resolved_label"] = None if version is not None else label
        etag = f'"{body["hash"]}"'
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(200, json=body, headers={"ETag": etag})


def _error(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}
