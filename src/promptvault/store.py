"""The one interface of a prompt store, kept by the library and both SDK clients.

:class:`~promptvault.Vault` (a database), :class:`~promptvault.client.PromptVaultClient` and
:class:`~promptvault.client.AsyncPromptVaultClient` (a server over HTTP) all satisfy
:class:`PromptStore` or :class:`AsyncPromptStore`; mypy checks it in
``promptvault._store_check`` and ``tests/test_parity.py`` runs one behaviour table through
all three. Code written against the protocol works on either side of the network.

Each method takes its identity first (a reference or a prompt name), then keyword-only
options. Who acts is not an argument: a Vault records its configured actor, a server the
name of the API key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from promptvault.entities import (
    AuditEntry,
    AuditReport,
    LabelEvent,
    PromptDiff,
    PromptSummary,
    PromptVersion,
    PushResult,
)

if TYPE_CHECKING:
    from promptvault.builder.builder import BuiltRequest

__all__ = ["AsyncAuditTrail", "AsyncPromptStore", "AuditTrail", "PromptStore"]

Template = str | Sequence[Mapping[str, Any]]


class AuditTrail(Protocol):
    """The hash-chained audit log: entries oldest first, and chain verification."""

    def entries(
        self,
        *,
        since: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        limit: int | None = None,
        after_seq: int | None = None,
    ) -> list[AuditEntry]: ...

    def verify(self) -> AuditReport: ...


class AsyncAuditTrail(Protocol):
    """:class:`AuditTrail` for asyncio."""

    async def entries(
        self,
        *,
        since: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        limit: int | None = None,
        after_seq: int | None = None,
    ) -> list[AuditEntry]: ...

    async def verify(self) -> AuditReport: ...


class PromptStore(Protocol):
    """Prompts, versions, labels, rendering and the audit log, wherever they live."""

    @property
    def audit(self) -> AuditTrail: ...

    def get(self, ref: str, *, unit_id: str | None = ...) -> PromptVersion: ...

    def render(
        self,
        ref: str,
        variables: Mapping[str, Any] | None = None,
        *,
        placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        strict: bool = True,
        unit_id: str | None = ...,
    ) -> Any: ...

    def build(
        self,
        ref: str,
        variables: Mapping[str, Any] | None = None,
        *,
        unit_id: str | None = ...,
        examples: str | Mapping[str, Any] | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        now: datetime | None = None,
        strict: bool = True,
    ) -> BuiltRequest: ...

    def push(
        self,
        name: str,
        *,
        template: Template,
        syntax: str = "mustache",
        type: str | None = None,
        config: Mapping[str, Any] | None = None,
        variables_schema: Mapping[str, Any] | None = None,
        message: str = "",
        tags: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        description: str | None = None,
        allow_missing_partials: bool = False,
    ) -> PushResult: ...

    def get_prompt(self, name: str) -> PromptSummary: ...

    def list_prompts(
        self,
        *,
        tag: str | None = None,
        search: str | None = None,
        folder: str | None = None,
        include_archived: bool = False,
        limit: int | None = ...,
        after: str | None = None,
    ) -> list[PromptSummary]: ...

    def versions(
        self, name: str, *, limit: int | None = None, before: int | None = None
    ) -> list[PromptVersion]: ...

    def archive(self, name: str) -> PromptSummary: ...

    def labels(self, name: str) -> dict[str, int]: ...

    def set_label(
        self, name: str, label: str, version: int, *, override_gate: bool = False
    ) -> LabelEvent: ...

    def rollback(self, name: str, *, label: str = "production") -> LabelEvent: ...

    def delete_label(self, name: str, label: str) -> LabelEvent: ...

    def label_history(self, name: str, label: str | None = None) -> list[LabelEvent]: ...

    def diff(self, a_ref: str, b_ref: str) -> PromptDiff: ...


class AsyncPromptStore(Protocol):
    """:class:`PromptStore` for asyncio: the same operations, awaited."""

    @property
    def audit(self) -> AsyncAuditTrail: ...

    async def get(self, ref: str, *, unit_id: str | None = ...) -> PromptVersion: ...

    async def render(
        self,
        ref: str,
        variables: Mapping[str, Any] | None = None,
        *,
        placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        strict: bool = True,
        unit_id: str | None = ...,
    ) -> Any: ...

    async def build(
        self,
        ref: str,
        variables: Mapping[str, Any] | None = None,
        *,
        unit_id: str | None = ...,
        examples: str | Mapping[str, Any] | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        now: datetime | None = None,
        strict: bool = True,
    ) -> BuiltRequest: ...

    async def push(
        self,
        name: str,
        *,
        template: Template,
        syntax: str = "mustache",
        type: str | None = None,
        config: Mapping[str, Any] | None = None,
        variables_schema: Mapping[str, Any] | None = None,
        message: str = "",
        tags: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        description: str | None = None,
        allow_missing_partials: bool = False,
    ) -> PushResult: ...

    async def get_prompt(self, name: str) -> PromptSummary: ...

    async def list_prompts(
        self,
        *,
        tag: str | None = None,
        search: str | None = None,
        folder: str | None = None,
        include_archived: bool = False,
        limit: int | None = ...,
        after: str | None = None,
    ) -> list[PromptSummary]: ...

    async def versions(
        self, name: str, *, limit: int | None = None, before: int | None = None
    ) -> list[PromptVersion]: ...

    async def archive(self, name: str) -> PromptSummary: ...

    async def labels(self, name: str) -> dict[str, int]: ...

    async def set_label(
        self, name: str, label: str, version: int, *, override_gate: bool = False
    ) -> LabelEvent: ...

    async def rollback(self, name: str, *, label: str = "production") -> LabelEvent: ...

    async def delete_label(self, name: str, label: str) -> LabelEvent: ...

    async def label_history(self, name: str, label: str | None = None) -> list[LabelEvent]: ...

    async def diff(self, a_ref: str, b_ref: str) -> PromptDiff: ...
