# Generated from _calls_async.py by scripts/unasync.py: do not edit, change the source and
# run `python scripts/unasync.py`.
"""Writes and listings of the sync SDK client: one request each, plus cache invalidation.

Generated from ``_calls_async.py`` (the hand-written source) by
``scripts/unasync.py`` (CI runs it with ``--check``), so the two clients cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from promptvault.client import _api
from promptvault.client._api import Call
from promptvault.client._core import ClientCore, diff_args
from promptvault.client.cache import CacheKey
from promptvault.entities import LabelEvent, PromptDiff, PromptSummary, PromptVersion, PushResult

__all__ = ["StoreCalls"]

T = TypeVar("T")


class StoreCalls:
    """Push, labels, archive and listings over ``_call``; mixed into the sync client."""

    _core: ClientCore

    def _call(self, call: Call[T]) -> T:
        raise NotImplementedError  # the client sends it

    def push(
        self,
        name: str,
        *,
        template: str | Sequence[Mapping[str, Any]],
        syntax: str = "mustache",
        type: str | None = None,
        config: Mapping[str, Any] | None = None,
        variables_schema: Mapping[str, Any] | None = None,
        message: str = "",
        tags: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        description: str | None = None,
        allow_missing_partials: bool = False,
    ) -> PushResult:
        """Push a new version (a no-op returning the newest when the content is identical).

        The server records the API key's name as the author.
        """
        body = _api.push_body(
            template=template,
            syntax=syntax,
            type=type,
            config=config,
            variables_schema=variables_schema,
            message=message,
            tags=tags,
            labels=labels,
            description=description,
            allow_missing_partials=allow_missing_partials,
        )
        result = self._call(_api.push(name, body))
        core = self._core
        touched = {"latest", *(labels or ())}
        if result.version.version == 1:
            touched.add("production")  # a new prompt's first version takes production
        for label in touched:
            core.invalidate(CacheKey(core.server, name, label, None))
        return result

    def set_label(
        self, name: str, label: str, version: int, *, override_gate: bool = False
    ) -> LabelEvent:
        """Point ``label`` at ``version`` (``override_gate``: past a failing eval gate, with
        an admin key)."""
        result = self._call(_api.set_label(name, label, version, override_gate=override_gate))
        self._core.invalidate(CacheKey(self._core.server, name, label, None))
        return result

    def delete_label(self, name: str, label: str) -> LabelEvent:
        """Remove ``label`` from a prompt."""
        result = self._call(_api.delete_label(name, label))
        self._core.invalidate(CacheKey(self._core.server, name, label, None))
        return result

    def rollback(self, name: str, *, label: str = "production") -> LabelEvent:
        """Move ``label`` back to where it pointed before its last move."""
        result = self._call(_api.rollback(name, label))
        self._core.invalidate(CacheKey(self._core.server, name, label, None))
        return result

    def archive(self, name: str) -> PromptSummary:
        """Archive a prompt (its versions stay readable by number)."""
        result = self._call(_api.archive(name))
        self._core.invalidate_prompt(name)
        return result

    def get_prompt(self, name: str) -> PromptSummary:
        """A prompt's summary: latest version, labels, tags."""
        return self._call(_api.get_prompt(name))

    def list_prompts(
        self,
        *,
        tag: str | None = None,
        search: str | None = None,
        folder: str | None = None,
        include_archived: bool = False,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[PromptSummary]:
        """Prompts by name; ``after`` is the last name of the previous page."""
        call = _api.list_prompts(
            tag=tag,
            search=search,
            folder=folder,
            include_archived=include_archived,
            limit=limit,
            after=after,
        )
        page = self._call(call)
        return page.items

    def versions(
        self, name: str, *, limit: int | None = None, before: int | None = None
    ) -> list[PromptVersion]:
        """Versions newest first; ``before`` pages back from a version number."""
        page = self._call(_api.versions(name, limit=limit, before=before))
        return page.items

    def labels(self, name: str) -> dict[str, int]:
        """Where each label of a prompt points."""
        return self._call(_api.labels(name))

    def label_history(self, name: str, label: str | None = None) -> list[LabelEvent]:
        """Moves of one label, or of every label of the prompt (deleted ones too), newest
        first."""
        return self._call(_api.label_history(name, label))

    def diff(self, a_ref: str, b_ref: str) -> PromptDiff:
        """The diff between two references (``name@2``, ``name@staging``...)."""
        name, frm, to = diff_args(self._core.server, a_ref, b_ref)
        return self._call(_api.diff(name, frm, to))
