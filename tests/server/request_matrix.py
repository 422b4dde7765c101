"""Authorisation matrix rows of the change requests and comments routes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from promptvault.server.auth import Permission


def _label() -> str:
    return f"rq-{uuid.uuid4().hex[:8]}"


def request_endpoints(endpoint: Callable[..., Any], name: str) -> list[Any]:
    """``/v1/requests...`` and ``/v1/comments`` rows; each request is made by ``setup``,
    so an approver key never approves its own."""

    def made(w: Any) -> int:
        return int(w.vault.requests.request(name, _label(), 2, actor="setup").id)

    return [
        endpoint("requests-list", "GET", lambda w: "/v1/requests?status=open", Permission.READ),
        endpoint(
            "requests-create",
            "POST",
            lambda w: "/v1/requests",
            Permission.WRITE,
            lambda w: {"prompt": name, "label": _label(), "version": 2, "comment": "please"},
        ),
        endpoint("request-get", "GET", lambda w: f"/v1/requests/{made(w)}", Permission.READ),
        endpoint(
            "request-approve",
            "POST",
            lambda w: f"/v1/requests/{made(w)}/approve",
            Permission.APPROVE,
            lambda w: {"comment": "looks right"},
        ),
        endpoint(
            "request-reject", "POST", lambda w: f"/v1/requests/{made(w)}/reject", Permission.APPROVE
        ),
        endpoint(
            "comments-list",
            "GET",
            lambda w: f"/v1/comments?prompt={name}&version=1",
            Permission.READ,
        ),
        endpoint(
            "comments-add",
            "POST",
            lambda w: "/v1/comments",
            Permission.WRITE,
            lambda w: {"prompt": name, "version": 1, "body": "why this wording?"},
        ),
    ]
