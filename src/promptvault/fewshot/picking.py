"""Selection for builds: which collection, which strategy, which examples.

:class:`Picker` turns the checked ``examples=`` argument of a build
(:class:`~promptvault.fewshot.models.ExamplesSpec`) and the build's variables into a
:class:`Selection`, reading only the in-memory snapshot of the collection (no database
access while the snapshot and the attached-collection lookup are within their TTL).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from promptvault.entities import Example
from promptvault.errors import InvalidInputError, MissingVariablesError
from promptvault.fewshot.models import ExamplesSpec
from promptvault.fewshot.runtime import CollectionCache
from promptvault.fewshot.selection import fit_examples
from promptvault.storage import fewshot as repo
from promptvault.storage.database import Database
from promptvault.templating import render as render_text

__all__ = ["Picker", "Selection"]


class Selection(NamedTuple):
    """Examples chosen for one build, and why there are none when there are none."""

    examples: list[Example]
    reason: str | None
    collection: str
    strategy: str
    template: str | None


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
        with self.db.read() as s:
            names = [c["name"] for c in repo.collections(s, prompt=prompt)]
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
        info = loaded.collection
        index = loaded.index
        strategy = spec.strategy or info.strategy
        k = info.k if spec.k is None else spec.k
        query = None
        if strategy in ("semantic", "mmr"):
            source = spec.query if spec.query is not None else info.query_template
            if source is None:
                raise InvalidInputError(
                    f"{strategy} selection needs a query (examples.query, e.g. "
                    "'{{question}}', or the collection's query template)",
                    details={"field": "examples.query"},
                )
            try:
                text = render_text(source, variables or {}, strict=True)
            except MissingVariablesError as err:
                raise MissingVariablesError(
                    err.missing,
                    message=f"examples.query: {err.message}",
                    details={**err.details, "field": "examples.query"},
                ) from None
            if index.n and k:
                query = self.cache.query_vector(loaded, text)
        if index.n == 0:
            return Selection([], f"collection {name!r} is empty", name, strategy, None)
        if k == 0:
            return Selection([], "k is 0", name, strategy, None)
        mask = index.mask(
            category=spec.category, min_quality=spec.min_quality, metadata=spec.metadata
        )
        rows = index.select(
            strategy, k, query=query, mask=mask, lambda_=spec.lambda_, seed=spec.seed
        )
        chosen = index.pick(rows)
        if not chosen:
            return Selection([], "no example passed the filters", name, strategy, None)
        budget = info.token_budget if spec.token_budget is None else spec.token_budget
        if budget is not None:
            chosen = fit_examples(
                chosen, budget, template=info.example_template, as_messages=as_messages
            )
            if not chosen:
                return Selection(
                    [], f"no example fits the token budget of {budget}", name, strategy, None
                )
        return Selection(chosen, None, name, strategy, info.example_template)
