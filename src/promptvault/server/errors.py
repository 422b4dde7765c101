"""The one place that maps promptvault error codes to HTTP statuses, and the error handlers.

Every error answer has the same body: ``{"error": {"code", "message", "details"}}``. A code
not in the table takes the status of its nearest ancestor class that is (a new
``NotFoundError`` subclass is a 404 without touching this file).

The Langfuse-compatible routes (``/api/public/``) answer in Langfuse's own error shape,
``{"message", "error"}`` with Langfuse's error name, and with 400 where promptvault says
422, so the Langfuse SDK raises the exception its users already catch.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from promptvault.errors import PromptVaultError, TemplateLimitError
from promptvault.server.bodyerrors import (
    body_parse_error,
    json_syntax_error,
    not_json_error,
    utf8_error,
)
from promptvault.server.protocol import SECURITY_HEADERS, allowed_methods

__all__ = [
    "ERROR_RESPONSES",
    "STATUS_BY_CODE",
    "ErrorBody",
    "ErrorEnvelope",
    "LANGFUSE_PREFIX",
    "error_response",
    "langfuse_error_response",
    "install_error_handlers",
    "promptvault_error_response",
    "status_for",
]

STATUS_BY_CODE: dict[str, int] = {
    "error": 500,
    "invalid_input": 422,
    "label_invalid": 422,
    "url_refused": 422,
    "template_error": 422,
    "template_syntax": 422,
    "missing_variables": 422,
    "template_security": 422,
    "template_limit": 422,  # 413 when the limit is the template's own size, see status_for
    "not_found": 404,
    "prompt_not_found": 404,
    "version_not_found": 404,
    "label_not_found": 404,
    "collection_not_found": 404,
    "dataset_not_found": 404,
    "eval_run_not_found": 404,
    "provider_not_found": 404,
    "secret_key_missing": 422,
    "provider_error": 502,
    "eval_gate_failed": 409,
    "webhook_not_found": 404,
    "label_protected": 403,
    "forbidden": 403,
    "unauthenticated": 401,
    "conflict": 409,
    "version_conflict": 409,
    "experiment_state": 409,
    "approval_required": 409,
    "request_state": 409,
    "self_approval": 403,
    "unavailable": 503,
    "rate_limited": 429,
    "payload_too_large": 413,
    # Codes the HTTP layer itself produces (no exception class behind them).
    "method_not_allowed": 405,
    "internal": 500,
}

_SIZE_LIMITS = frozenset({"max_source_bytes", "max_body_bytes"})


class ErrorBody(BaseModel):
    """What went wrong: a stable code, a message for people, details naming the field."""

    code: str
    message: str
    details: dict[str, Any]


class ErrorEnvelope(BaseModel):
    """Every error answer: ``{"error": {...}}``."""

    error: ErrorBody


def _doc(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


# Documented on every route so that clients (and schema checkers) know every error's shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _doc("No API key, or an unknown or revoked one"),
    403: _doc("The key's role does not allow this, or the label is protected"),
    404: _doc("Prompt, version or label not found"),
    409: _doc("Conflicts with the current state"),
    413: _doc("Request body or template too large"),
    422: _doc("Invalid input; details name the field"),
    429: _doc("Too many failed authentication attempts; wait Retry-After seconds"),
    503: _doc("The database is unavailable"),
}


def status_for(error: PromptVaultError) -> int:
    """The HTTP status for a promptvault error."""
    if isinstance(error, TemplateLimitError) and error.details.get("limit") in _SIZE_LIMITS:
        return 413
    for cls in type(error).__mro__:
        code = getattr(cls, "code", None)
        if isinstance(code, str) and code in STATUS_BY_CODE:
            return STATUS_BY_CODE[code]
    return 500


def error_response(
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A JSON error answer in the one shape."""
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status or STATUS_BY_CODE.get(code, 500), headers=headers)


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "config", "temperature") -> "config.temperature"; ("query", "limit") -> "limit"
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def promptvault_error_response(exc: PromptVaultError) -> JSONResponse:
    """The answer for a promptvault error: its code's status and the one body shape."""
    headers = {"WWW-Authenticate": "Bearer"} if exc.code == "unauthenticated" else None
    if exc.code == "rate_limited":
        headers = {"Retry-After": str(exc.details.get("retry_after", 1))}
    return error_response(
        exc.code, exc.message, exc.details, status=status_for(exc), headers=headers
    )


async def _on_promptvault_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PromptVaultError)
    return promptvault_error_response(exc)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if raw and raw[0].get("type") == "json_invalid":
        message, details = json_syntax_error(raw[0], exc.body)
        return error_response("invalid_input", message, details, status=422)
    for error in raw:
        plain = not_json_error(error, request.headers.get("content-type"))
        if plain is not None:
            return error_response("invalid_input", plain[0], plain[1], status=422)
    errors = [
        {
            "field": _field_name(e.get("loc", ())),
            "message": str(e.get("msg", "")),
            "type": e.get("type"),
        }
        for e in raw
    ]
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return error_response(
        "invalid_input", message, {"field": first["field"], "errors": errors}, status=422
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI answers an undecodable body with a bare 400; it is bad input like any
        # other, so it gets the documented 422 and says where the bad byte is.
        message, where = utf8_error(exc.__cause__, await _body_or_none(request))
        return error_response("invalid_input", message, where, status=422)
    if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError | ValueError):
        # The JSON parser gave up on a well-formed body: nested too deeply for the stack,
        # or an integer past Python's digit limit. Bad input, answered as such.
        return error_response("invalid_input", *body_parse_error(exc.__cause__), status=422)
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
        exc.status_code, "invalid_input" if exc.status_code < 500 else "internal"
    )
    headers = dict(exc.headers) if exc.headers else {}
    details: dict[str, Any] = {}
    if exc.status_code == 405:
        # The router names the methods of the first route on the path only; other routes
        # on the same path (GET and DELETE of a prompt are two) count too.
        allow = allowed_methods(request.app.router.routes, request.scope)
        if allow:
            headers["Allow"] = ", ".join(allow)
            details = {"method": request.method, "allowed": allow}
    return error_response(
        code, str(exc.detail), details, status=exc.status_code, headers=headers or None
    )


async def _body_or_none(request: Request) -> bytes | None:
    try:
        return await request.body()
    except RuntimeError:  # the stream was consumed elsewhere and not kept
        return None


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The message stays generic: internals are for the server log, not the client. This
    # answer is sent outside every middleware (the server then drops the connection), so it
    # says ``Connection: close`` and carries the security headers itself.
    return error_response(
        "internal",
        "internal server error",
        {},
        status=500,
        headers={**SECURITY_HEADERS, "Connection": "close"},
    )


LANGFUSE_PREFIX = "/api/public/"

# Langfuse's names for its error classes, by status (its SDK maps them to exceptions).
_LANGFUSE_ERRORS = {
    400: "InvalidRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "LangfuseNotFoundError",
    405: "MethodNotAllowedError",
    409: "LangfuseConflictError",
    413: "InvalidRequestError",
    429: "TooManyRequestsError",
    503: "ServiceUnavailableError",
}


def langfuse_error_response(
    status: int, message: str, *, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error in Langfuse's shape; promptvault's 422 (bad input) is Langfuse's 400."""
    status = 400 if status == 422 else status
    body = {"message": message, "error": _LANGFUSE_ERRORS.get(status, "InternalServerError")}
    return JSONResponse(body, status_code=status, headers=headers)


_Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]


def _dialect(handler: _Handler) -> _Handler:
    """``handler``, answering in Langfuse's error shape on the Langfuse-compatible routes."""

    async def answer(request: Request, exc: Exception) -> JSONResponse:
        response = await handler(request, exc)
        if not request.url.path.startswith(LANGFUSE_PREFIX):
            return response
        message = json.loads(bytes(response.body))["error"]["message"]
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in {"content-length", "content-type", "www-authenticate"}
        }
        if response.status_code == 401:
            headers["WWW-Authenticate"] = 'Basic realm="promptvault"'
        return langfuse_error_response(response.status_code, message, headers=headers)

    return answer


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the one error shape."""
    app.add_exception_handler(PromptVaultError, _dialect(_on_promptvault_error))
    app.add_exception_handler(RequestValidationError, _dialect(_on_validation_error))
    app.add_exception_handler(StarletteHTTPException, _dialect(_on_http_error))
    app.add_exception_handler(Exception, _dialect(_on_unexpected))
