"""One exception tree with stable codes.

Every error promptvault raises is a :class:`PromptVaultError` carrying a stable ``code``
(``prompt_not_found``, ``template_syntax``, ...), a human message and a ``details`` dict that
names the field, line and column at fault. The server turns the code into an HTTP status
(``server/errors.py``) and the SDK rebuilds the same class from the JSON body with
:func:`error_from_payload`, so ``except PromptNotFound`` works locally and remotely.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

__all__ = [
    "ApprovalRequiredError",
    "CollectionNotFound",
    "ConflictError",
    "DatasetNotFound",
    "EvalGateError",
    "EvalRunNotFound",
    "ExperimentNotFound",
    "ExperimentStateError",
    "ForbiddenError",
    "InvalidInputError",
    "LabelInvalidError",
    "LabelNotFound",
    "LabelProtectedError",
    "MissingVariablesError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PromptNotFound",
    "PromptUnavailable",
    "PromptVaultError",
    "ProviderError",
    "ProviderNotFound",
    "RateLimitedError",
    "RequestStateError",
    "SecretKeyMissingError",
    "SelfApprovalError",
    "TemplateError",
    "TemplateLimitError",
    "TemplateSecurityError",
    "TemplateSyntaxError",
    "UnauthenticatedError",
    "UrlRefusedError",
    "VersionConflictError",
    "VersionNotFound",
    "WebhookNotFound",
    "caret_excerpt",
    "did_you_mean",
    "error_class_for",
    "error_from_payload",
    "suggest",
]

_BY_CODE: dict[str, type[PromptVaultError]] = {}


class PromptVaultError(Exception):
    """Root of every promptvault error; ``code`` is stable and machine-readable."""

    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The first class to claim a code owns it; subclasses that only refine behaviour
        # (and keep the parent's code) must not steal the mapping.
        _BY_CODE.setdefault(cls.code, cls)

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body: ``{"code", "message", "details"}``."""
        return {"code": self.code, "message": self.message, "details": self.details}

    def _restore(self) -> None:
        """Re-derive subclass attributes from ``details`` after a rebuild from JSON."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.details))


def _rebuild(
    cls: type[PromptVaultError], message: str, details: dict[str, Any]
) -> PromptVaultError:
    err = cls.__new__(cls)
    PromptVaultError.__init__(err, message, details=details)
    err._restore()
    return err


_BY_CODE[PromptVaultError.code] = PromptVaultError


# --- input -----------------------------------------------------------------------------


class InvalidInputError(PromptVaultError):
    """A request or argument is malformed; ``details['field']`` names the culprit."""

    code = "invalid_input"


class PayloadTooLargeError(InvalidInputError):
    """A request body is over the server's size limit; ``details['limit']`` is the limit in
    bytes. Raised by the SDK from the server's 413 answer."""

    code = "payload_too_large"


class UrlRefusedError(InvalidInputError):
    """A webhook URL is not http(s), or names or resolves to an address that is not public
    (private, loopback, link-local, multicast, reserved) and no setting allows it."""

    code = "url_refused"


class LabelInvalidError(InvalidInputError):
    """A label name does not match ``[a-z][a-z0-9_-]{0,63}`` or is reserved (``latest``)."""

    code = "label_invalid"


# --- templates -------------------------------------------------------------------------


class TemplateError(PromptVaultError):
    """Base of every template compile or render error."""

    code = "template_error"


class TemplateSyntaxError(TemplateError):
    """The template source is malformed; details carry line, column and an excerpt."""

    code = "template_syntax"

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        source: str | None = None,
        name: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        merged: dict[str, Any] = dict(details or {})
        if line is not None:
            merged.setdefault("line", line)
        if column is not None:
            merged.setdefault("column", column)
        if name is not None:
            merged.setdefault("template", name)
        if source is not None and line is not None:
            merged.setdefault("excerpt", caret_excerpt(source, line, column or 1))
        self.line = merged.get("line")
        self.column = merged.get("column")
        where = f" at line {self.line}, column {self.column}" if self.line is not None else ""
        text = f"{message}{where}"
        if "excerpt" in merged:
            text = f"{text}\n{merged['excerpt']}"
        super().__init__(text, details=merged)
        self.reason = message

    def _restore(self) -> None:
        self.line = self.details.get("line")
        self.column = self.details.get("column")
        self.reason = self.message.split(" at line ")[0].split("\n")[0]


class MissingVariablesError(TemplateError):
    """Strict rendering found variables absent from the data (all of them are listed)."""

    code = "missing_variables"

    def __init__(
        self,
        missing: list[dict[str, Any]] | None = None,
        *,
        message: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        merged: dict[str, Any] = dict(details or {})
        items = list(missing if missing is not None else merged.get("missing", []))
        merged["missing"] = items
        if items:  # the one field every error names: the first variable that is missing
            merged.setdefault("field", f"variables.{items[0].get('name')}")
        self.missing = items
        self.names = sorted({str(m.get("name")) for m in items})
        if message is None:
            where = ", ".join(
                f"{m.get('name')} (line {m.get('line')}, column {m.get('column')})"
                if m.get("line") is not None
                else str(m.get("name"))
                for m in items
            )
            message = f"missing variables: {where}"
        super().__init__(message, details=merged)

    def _restore(self) -> None:
        self.missing = list(self.details.get("missing", []))
        self.names = sorted({str(m.get("name")) for m in self.missing})


class TemplateSecurityError(TemplateError):
    """Template code tried to reach something the sandbox forbids."""

    code = "template_security"


class TemplateLimitError(TemplateError):
    """A size, depth or range limit was exceeded; ``details['limit']`` names which."""

    code = "template_limit"


# --- lookups ---------------------------------------------------------------------------


class NotFoundError(PromptVaultError):
    """Something named does not exist; ``details['suggestions']`` lists near names."""

    code = "not_found"


class PromptNotFound(NotFoundError):
    """No prompt with that name."""

    code = "prompt_not_found"


class VersionNotFound(NotFoundError):
    """The prompt exists but not that version."""

    code = "version_not_found"


class LabelNotFound(NotFoundError):
    """The prompt exists but has no such label."""

    code = "label_not_found"


class CollectionNotFound(NotFoundError):
    """No few-shot example collection with that name."""

    code = "collection_not_found"


class WebhookNotFound(NotFoundError):
    """No webhook subscription (or delivery) with that id."""

    code = "webhook_not_found"


class ExperimentNotFound(NotFoundError):
    """No experiment with that name."""

    code = "experiment_not_found"


class DatasetNotFound(NotFoundError):
    """No evaluation dataset with that name."""

    code = "dataset_not_found"


class EvalRunNotFound(NotFoundError):
    """No evaluation run with that id."""

    code = "eval_run_not_found"


class ProviderNotFound(NotFoundError):
    """No model provider with that name (stored or in settings)."""

    code = "provider_not_found"


class SecretKeyMissingError(InvalidInputError):
    """A secret cannot be stored or read: ``PROMPTVAULT_SECRET_KEY`` is not set (or is not
    the key the secret was stored with)."""

    code = "secret_key_missing"


class ProviderError(PromptVaultError):
    """A model provider answered with an error, or not at all, after every retry."""

    code = "provider_error"


class EvalGateError(PromptVaultError):
    """Promoting to a gated label needs a passing evaluation run with no significant
    regression; ``details`` hold the gate's result (``reasons``, ``run``, ``baseline``)."""

    code = "eval_gate_failed"


# --- permissions and state -------------------------------------------------------------


class LabelProtectedError(PromptVaultError):
    """Moving a protected label (``production`` by default) needs the admin role."""

    code = "label_protected"


class ForbiddenError(PromptVaultError):
    """The caller is authenticated but its role does not allow the action."""

    code = "forbidden"


class SelfApprovalError(ForbiddenError):
    """A change request must be approved by someone other than the person who made it."""

    code = "self_approval"


class UnauthenticatedError(PromptVaultError):
    """No API key, or an unknown or revoked one."""

    code = "unauthenticated"


class RateLimitedError(PromptVaultError):
    """Too many failed attempts from this client or at this key; ``details['retry_after']``
    says how many seconds to wait."""

    code = "rate_limited"


class ConflictError(PromptVaultError):
    """The write conflicts with the current state (duplicate name, idempotency clash...)."""

    code = "conflict"


class VersionConflictError(ConflictError):
    """Two writers raced for the same version number and retries were exhausted."""

    code = "version_conflict"


class ApprovalRequiredError(ConflictError):
    """The label needs a second person's approval: request the move (``/v1/requests``)."""

    code = "approval_required"


class RequestStateError(ConflictError):
    """The change request was already decided, or the label moved since it was made."""

    code = "request_state"


class ExperimentStateError(PromptVaultError):
    """The experiment is not in a state that allows the action (start a stopped one...)."""

    code = "experiment_state"


class PromptUnavailable(PromptVaultError):
    """The server cannot be reached and no cached, on-disk or caller fallback exists."""

    code = "unavailable"


def caret_excerpt(source: str, line: int, column: int) -> str:
    """The offending line of ``source`` and a caret under ``column`` (both 1-based)."""
    lines = source.splitlines() or [""]
    text = lines[min(max(line, 1), len(lines)) - 1]
    if len(text) > 120:  # keep the excerpt one readable line around the column
        start = max(0, column - 60)
        text = text[start : start + 120]
        column -= start
    return f"{text}\n{' ' * max(column - 1, 0)}^"


# difflib compares ``word`` with every candidate; past this many, only the candidates that
# could reach the cutoff by length are compared, and at most this many of them.
_SUGGEST_MAX = 500


def suggest(word: str, candidates: Iterable[str], *, n: int = 3) -> list[str]:
    """Near matches of ``word`` among ``candidates``, best first (``details['suggestions']``).

    The work is bounded: callers pass a bounded candidate set (the storage layer reads
    names near ``word`` from an index), and a large one is cut to those whose length can
    still match (a ratio >= 0.6 needs lengths within a factor of about 2) before difflib.
    """
    pool = list(candidates)
    if len(pool) > _SUGGEST_MAX:
        size = len(word)
        pool = [c for c in pool if size // 2 <= len(c) <= size * 2 + 1][:_SUGGEST_MAX]
    import difflib  # here, not at the top: every CLI command imports this module

    return difflib.get_close_matches(word, pool, n=n, cutoff=0.6)


def did_you_mean(near: Sequence[str]) -> str:
    """`` (did you mean a, b?)`` to append to a not-found message; empty when nothing is near."""
    return f" (did you mean {', '.join(near)}?)" if near else ""


def error_class_for(code: str) -> type[PromptVaultError]:
    """The exception class that owns ``code`` (``PromptVaultError`` when unknown)."""
    return _BY_CODE.get(code, PromptVaultError)


def error_from_payload(payload: Mapping[str, Any]) -> PromptVaultError:
    """Rebuild the exception from an ``{"error": {...}}`` (or inner) JSON body."""
    body = payload.get("error", payload)
    if not isinstance(body, Mapping):
        return PromptVaultError(str(body))
    cls = error_class_for(str(body.get("code", "error")))
    return _rebuild(cls, str(body.get("message", "")), dict(body.get("details") or {}))
