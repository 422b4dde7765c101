"""The examples of one build, chosen from a collection snapshot: pure, no I/O.

Shared by the Vault (over its cached snapshot) and the SDK (over the snapshot it fetched),
so both pick the same examples for the same input. No I/O: the query embedding comes from
the ``query_vector`` callable the caller passes (cached or not, local or remote).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from promptvault.entities import Example
from promptvault.errors import InvalidInputError, MissingVariablesError
from promptvault.fewshot.index import CollectionIndex
from promptvault.fewshot.models import Collection, ExamplesSpec
from promptvault.fewshot.selection import fit_examples
from promptvault.templating import render as render_text

__all__ = ["Selection", "choose"]


class Selection(NamedTuple):
    """Examples chosen for one build, and why there are none when there are none."""

    examples: list[Example]
    reason: str | None
    collection: str
    strategy: str
    template: str | None


def choose(
    info: Collection,
    index: CollectionIndex,
    query_vector: Callable[[str], Any],
    spec: ExamplesSpec,
    variables: Mapping[str, Any] | None,
    *,
    as_messages: bool = False,
) -> Selection:
    """Apply ``spec`` (or the collection's defaults) to one snapshot of collection ``info``."""
    name = info.name
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
            query = query_vector(text)
    if index.n == 0:
        return Selection([], f"collection {name!r} is empty", name, strategy, None)
    if k == 0:
        return Selection([], "k is 0", name, strategy, None)
    where = index.where(
        category=spec.category, min_quality=spec.min_quality, metadata=spec.metadata
    )
    rows = index.select(strategy, k, query=query, where=where, lambda_=spec.lambda_, seed=spec.seed)
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
