"""promptvault: self-hosted prompt management.

``from promptvault import Vault`` gives the library; the SDK is
``promptvault.client.PromptVaultClient`` (kept out of this namespace: the server imports
this package and must not reach the SDK). The errors are plain Python and imported at once;
every other public name loads on first use, so that the SDK and CLI start without loading
the database layer (see docs/architecture.md).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from promptvault.errors import (
    CollectionNotFound,
    ConflictError,
    ExperimentNotFound,
    ExperimentStateError,
    ForbiddenError,
    InvalidInputError,
    LabelInvalidError,
    LabelNotFound,
    LabelProtectedError,
    MissingVariablesError,
    NotFoundError,
    PayloadTooLargeError,
    PromptNotFound,
    PromptUnavailable,
    PromptVaultError,
    RateLimitedError,
    TemplateError,
    TemplateLimitError,
    TemplateSecurityError,
    TemplateSyntaxError,
    UnauthenticatedError,
    UrlRefusedError,
    VersionConflictError,
    VersionNotFound,
    WebhookNotFound,
)

if TYPE_CHECKING:
    from promptvault.builder import BuiltRequest
    from promptvault.config import Settings
    from promptvault.entities import (
        AuditEntry,
        AuditReport,
        ChangeEvent,
        Example,
        LabelEvent,
        PromptDiff,
        PromptSummary,
        PromptVersion,
        PushResult,
    )
    from promptvault.templating import compile_chat, compile_template
    from promptvault.vault import Vault

__version__ = "0.1.0"

# Public name -> the module that defines it, imported on first access.
_LAZY = {
    "AuditEntry": "promptvault.entities",
    "AuditReport": "promptvault.entities",
    "BuiltRequest": "promptvault.builder",
    "ChangeEvent": "promptvault.entities",
    "Example": "promptvault.entities",
    "LabelEvent": "promptvault.entities",
    "PromptDiff": "promptvault.entities",
    "PromptSummary": "promptvault.entities",
    "PromptVersion": "promptvault.entities",
    "PushResult": "promptvault.entities",
    "Settings": "promptvault.config",
    "Vault": "promptvault.vault",
    "compile_chat": "promptvault.templating",
    "compile_template": "promptvault.templating",
}

__all__ = [
    "AuditEntry",
    "AuditReport",
    "BuiltRequest",
    "ChangeEvent",
    "CollectionNotFound",
    "ConflictError",
    "Example",
    "ExperimentNotFound",
    "ExperimentStateError",
    "ForbiddenError",
    "InvalidInputError",
    "LabelEvent",
    "LabelInvalidError",
    "LabelNotFound",
    "LabelProtectedError",
    "MissingVariablesError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PromptDiff",
    "PromptNotFound",
    "PromptSummary",
    "PromptUnavailable",
    "PromptVaultError",
    "PromptVersion",
    "PushResult",
    "RateLimitedError",
    "Settings",
    "TemplateError",
    "TemplateLimitError",
    "TemplateSecurityError",
    "TemplateSyntaxError",
    "UnauthenticatedError",
    "UrlRefusedError",
    "Vault",
    "VersionConflictError",
    "VersionNotFound",
    "WebhookNotFound",
    "__version__",
    "compile_chat",
    "compile_template",
]


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module 'promptvault' has no attribute {name!r}")
    try:
        module = importlib.import_module(home)
    except ModuleNotFoundError as exc:  # e.g. the SDK-only install: say which extra
        from promptvault._extras import with_install_hint

        raise with_install_hint(exc) from exc
    value = getattr(module, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
