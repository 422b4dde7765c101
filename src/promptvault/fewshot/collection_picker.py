"""Which collection a build draws from, read from the cached snapshot (or the database).

:class:`Picker` turns the checked ``examples=`` argument of a build
(:class:`~promptvault.fewshot.models.ExamplesSpec`) and the build's variables into a
:class:`Selection`, reading only the in-memory snapshot of the collection (no database
access while the snapshot and the attached-collection lookup are within their TTL).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptvault.errors import InvalidInputError
from promptvault.fewshot.examples_for_build import Selection, choose
from promptvault.fewshot.models import ExamplesSpec
from promptvault.fewshot.runtime import CollectionCache
from promptvault.storage.database import Database

__all__ = ["Picker", "Selection"]


class Picker:
    """Selects examples for builds from the cached collection snapshots."""

    def __init__(self, db: Database, cache: CollectionCache) -> None:
        self.db = db
        self.cache = cache
        self._attached: dict[str, tuple[float, list[str]]] = {}

    def forget_attachments(self) -> None:
        """Drop the attached-collection lookups (after an attach or delete)."""
        self._attached.clear()

    def attached(self, prompt: str) -> list[str]:
        """Names of the collections attached to ``prompt`` (cached for the label TTL)."""
        now = self.cache.clock()
        hit = self._attached.get(prompt)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.db.read_work() as work:
            names = [c["name"] for c in work.collections.fields(prompt=prompt)]
        self._attached[prompt] = (now + self.cache.ttl, names)
        return names

    def select(
        self,
        spec: ExamplesSpec,
        variables: Mapping[str, Any] | None,
        *,
        prompt: str,
        as_messages: bool = False,
    ) -> Selection:
        """Pick examples for one build of ``prompt`` (see ``Vault.build``)."""
        name = spec.collection
        if name is None:
            names = self.attached(prompt)
            if len(names) != 1:
                raise InvalidInputError(
                    f"name the examples collection: prompt {prompt!r} has "
                    + ("none attached" if not names else f"several ({', '.join(names)})"),
                    details={"field": "examples.collection", "attached": names},
                )
            name = names[0]
        loaded = self.cache.get(name)
        return choose(
            loaded.collection,
            loaded.index,
            lambda text: self.cache.query_vector(loaded, text),
            spec,
            variables,
            as_messages=as_messages,
        )
