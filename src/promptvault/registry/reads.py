"""The registry's read side: prompt summaries, listings, versions, labels and their history.

:class:`promptvault.registry.service.Registry` inherits these; they validate their inputs
(names, labels, filters) and read in one short transaction each.
"""

from __future__ import annotations

from promptvault.entities import LabelEvent, PromptSummary, PromptVersion, check_text
from promptvault.errors import InvalidInputError
from promptvault.registry.refs import check_label, check_name
from promptvault.registry.resolver import Resolver, not_found_prompt
from promptvault.storage.database import Database

__all__ = ["RegistryReads"]


def _filter(value: str | None, field: str) -> str | None:
    return None if value is None else check_text(value, field, limit=1000)


class RegistryReads:
    """Read operations over ``db`` (set by the subclass, with its ``resolver``)."""

    db: Database
    resolver: Resolver

    def get_prompt(self, name: str) -> PromptSummary:
        """One prompt's summary."""
        check_name(name)
        with self.db.read_work() as work:
            found = work.prompts.summary_of(name)
        if found is not None:
            return found
        raise not_found_prompt(self.db, name)

    def list_prompts(
        self,
        *,
        tag: str | None = None,
        search: str | None = None,
        folder: str | None = None,
        include_archived: bool = False,
        limit: int | None = 100,
        after: str | None = None,
    ) -> list[PromptSummary]:
        """Prompts sorted by name; pass the last name as ``after`` for the next page."""
        if limit is not None and (isinstance(limit, bool) or limit < 1):
            raise InvalidInputError("limit must be >= 1", details={"field": "limit"})
        tag, search = _filter(tag, "tag"), _filter(search, "search")
        folder, after = _filter(folder, "folder"), _filter(after, "after")
        with self.db.read_work() as work:
            return work.prompts.summaries(
                tag=tag,
                search=search,
                folder=folder,
                include_archived=include_archived,
                limit=limit,
                after=after,
            )

    def versions(
        self, name: str, *, limit: int | None = None, before: int | None = None
    ) -> list[PromptVersion]:
        """Versions newest first, each with the labels pointing at it now."""
        check_name(name)
        with self.db.read_work() as work:
            prompt = work.prompts.get(name)
            if prompt is not None:
                return work.prompts.versions(name, prompt.id, limit=limit, before=before)
        raise not_found_prompt(self.db, name)

    def labels(self, name: str) -> dict[str, int]:
        """``{label: version}`` of a prompt (``latest`` is implicit and not listed)."""
        check_name(name)
        with self.db.read_work() as work:
            prompt = work.prompts.get(name)
            if prompt is not None:
                return work.prompts.labels(prompt.id)
        raise not_found_prompt(self.db, name)

    def label_history(self, name: str, label: str | None = None) -> list[LabelEvent]:
        """Label moves newest first (one label, or all of the prompt's)."""
        check_name(name)
        if label is not None:
            check_label(label, settable=False)
        with self.db.read_work() as work:
            prompt = work.prompts.get(name)
            if prompt is not None:
                return work.prompts.label_history(name, prompt.id, label)
        raise not_found_prompt(self.db, name)
