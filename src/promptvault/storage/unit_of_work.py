"""The unit of work: one transaction, seen through repositories that return values.

Services working on it (all of them: the registry with its administrative modules, few-shot,
experiments, evaluations, webhooks) never see a SQLAlchemy ``Session`` nor an ORM row:
:meth:`Database.write_work` and :meth:`Database.read_work` hand them a :class:`UnitOfWork`,
whose repositories return entities, dicts and numbers, and change stored state only through
explicit calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar, overload

from sqlalchemy.orm import Session

from promptvault.storage import evals as eval_store
from promptvault.storage import experiments as store
from promptvault.storage import webhooks as webhook_store
from promptvault.storage.audit import append
from promptvault.storage.audit_repository import AuditRepository
from promptvault.storage.change_events import ChangeRepository
from promptvault.storage.collection_repository import CollectionRepository
from promptvault.storage.keys import KeyRepository
from promptvault.storage.prompt_repository import PromptRepository
from promptvault.storage.requests import RequestRepository
from promptvault.storage.sessions import UISessionRepository
from promptvault.storage.tables import utcnow

__all__ = [
    "AuditRepository",
    "ChangeRepository",
    "CollectionRepository",
    "EvalRepository",
    "ExperimentRepository",
    "KeyRepository",
    "PromptRepository",
    "RequestRepository",
    "StatKey",
    "UISessionRepository",
    "UnitOfWork",
    "WebhookRepository",
    "utcnow",
]

StatKey = store.StatKey
R = TypeVar("R")


class ExperimentRepository:
    """Experiments, their events and statistics (see :mod:`promptvault.storage.experiments`).

    Definitions come back as dicts of the experiment's fields plus its ``id``.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    # definitions
    def load(self, name: str) -> dict[str, Any] | None:
        return store.load_experiment(self._session, name)

    def find(self, *, prompt: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Experiments newest first, optionally of one prompt and/or one status."""
        return store.list_experiments(self._session, prompt=prompt, status=status)

    def running(self, prompt: str, label: str | None = None) -> list[dict[str, Any]]:
        return store.running_experiments(self._session, prompt, label)

    def running_on_label(self, prompt_id: int, label: str) -> str | None:
        return store.running_on_label(self._session, prompt_id, label)

    def running_slot(self, prompt_id: int, label: str) -> str:
        return store.running_slot(prompt_id, label)

    def insert(self, *, variants: Sequence[Mapping[str, Any]], **fields: Any) -> int:
        return store.insert_experiment(self._session, variants=variants, **fields)

    def update(self, experiment_id: int, **fields: Any) -> None:
        store.update_experiment(self._session, experiment_id, **fields)

    def control_version(self, experiment_id: int) -> int:
        return store.control_version(self._session, experiment_id)

    def replace_weights(self, experiment_id: int, weights: Mapping[str, float]) -> None:
        store.replace_weights(self._session, experiment_id, weights)

    # event batches
    def insert_phase(
        self,
        experiment_id: int,
        *,
        epoch: int,
        weights: Sequence[float],
        at: datetime,
        actor: str,
        reason: str,
    ) -> None:
        store.insert_phase(
            self._session,
            experiment_id,
            epoch=epoch,
            weights=weights,
            at=at,
            actor=actor,
            reason=reason,
        )

    def phases(self, experiment_id: int) -> list[dict[str, Any]]:
        return store.load_phases(self._session, experiment_id)

    def phase_stats(self, experiment_id: int) -> tuple[store.PhaseUnits, store.PhaseOutcomes]:
        return store.phase_stats(self._session, experiment_id)

    def batch_result(self, key: str) -> dict[str, Any] | None:
        return store.batch_result(self._session, key)

    def save_batch(self, key: str, result: Mapping[str, Any], at: datetime) -> None:
        store.save_batch(self._session, key, result, at)

    def known_units(self, experiment_id: int, unit_ids: Iterable[str]) -> dict[str, int]:
        return store.known_units(self._session, experiment_id, unit_ids)

    def insert_units(self, rows: list[tuple[Any, ...]]) -> None:
        store.insert_units(self._session, rows)

    def insert_exposures(self, rows: list[tuple[Any, ...]]) -> None:
        store.insert_exposures(self._session, rows)

    def insert_outcomes(self, rows: list[tuple[Any, ...]]) -> None:
        store.insert_outcomes(self._session, rows)

    def add_stats(self, deltas: Mapping[StatKey, list[float]]) -> None:
        store.add_stats(self._session, deltas)

    def add_rejections(self, counts: Mapping[tuple[str, str], int]) -> None:
        store.add_rejections(self._session, counts)

    # statistics
    def stat_totals(self, experiment_id: int) -> dict[tuple[int, str], tuple[int, float, float]]:
        return store.stat_totals(self._session, experiment_id)

    def stat_days(
        self, experiment_id: int, metric: str
    ) -> list[tuple[str, int, int, float, float]]:
        return store.stat_days(self._session, experiment_id, metric)

    def recompute_stats(
        self, experiment_id: int
    ) -> dict[tuple[int, str], tuple[int, float, float]]:
        return store.recompute_stats(self._session, experiment_id)

    def rejections(self, experiment: str) -> dict[str, int]:
        return store.rejections(self._session, experiment)


class EvalRepository:
    """Datasets, cases, providers, runs, results, the response cache and gates (see
    :mod:`promptvault.storage.evals`); everything comes back as dicts."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # datasets and cases
    def dataset(self, name: str) -> dict[str, Any] | None:
        return eval_store.dataset_get(self._session, name)

    def datasets(self) -> list[dict[str, Any]]:
        return eval_store.dataset_list(self._session)

    def insert_dataset(self, **fields: Any) -> int:
        return eval_store.dataset_insert(self._session, **fields)

    def update_dataset(self, dataset_id: int, **fields: Any) -> None:
        eval_store.dataset_update(self._session, dataset_id, **fields)

    def cases_at(self, dataset_id: int, version: int) -> list[dict[str, Any]]:
        return eval_store.cases_at(self._session, dataset_id, version)

    def live_keys(self, dataset_id: int, keys: Sequence[str]) -> set[str]:
        return eval_store.case_live(self._session, dataset_id, keys)

    def insert_cases(
        self, dataset_id: int, version: int, cases: Sequence[Mapping[str, Any]]
    ) -> None:
        eval_store.insert_cases(self._session, dataset_id, version, cases)

    def close_cases(self, dataset_id: int, keys: Sequence[str] | None, version: int) -> int:
        return eval_store.close_cases(self._session, dataset_id, keys, version)

    # providers
    def provider(self, name: str) -> dict[str, Any] | None:
        return eval_store.provider_get(self._session, name)

    def providers(self) -> list[dict[str, Any]]:
        return eval_store.provider_list(self._session)

    def put_provider(self, name: str, **fields: Any) -> bool:
        return eval_store.provider_put(self._session, name, **fields)

    def delete_provider(self, name: str) -> bool:
        return eval_store.provider_delete(self._session, name)

    # runs and results
    def insert_run(self, **fields: Any) -> None:
        eval_store.run_insert(self._session, **fields)

    def run(self, run_id: str) -> dict[str, Any] | None:
        return eval_store.run_get(self._session, run_id)

    def runs(self, **filters: Any) -> list[dict[str, Any]]:
        return eval_store.run_list(self._session, **filters)

    def update_run(self, run_id: str, *, owner: str | None = None, **fields: Any) -> bool:
        return eval_store.run_update(self._session, run_id, owner=owner, **fields)

    def claim_run(self, run_id: str, *, owner: str, until: datetime, now: datetime) -> bool:
        return eval_store.run_claim(self._session, run_id, owner=owner, until=until, now=now)

    def renew_run(self, run_id: str, *, owner: str, until: datetime) -> bool:
        return eval_store.run_renew(self._session, run_id, owner=owner, until=until)

    def results(self, run_id: str) -> list[dict[str, Any]]:
        return eval_store.results_of(self._session, run_id)

    def result_counts(self, run_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        return eval_store.result_counts(self._session, run_ids)

    def result_keys(self, run_id: str, *, with_errors: bool) -> set[str]:
        return eval_store.result_keys(self._session, run_id, with_errors=with_errors)

    def save_results(
        self, run_id: str, results: Sequence[Mapping[str, Any]], *, replace: bool
    ) -> None:
        eval_store.save_results(self._session, run_id, results, replace=replace)

    # response cache
    def cached(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        return eval_store.cache_get(self._session, keys)

    def cache(self, entries: Mapping[str, Mapping[str, Any]], at: datetime) -> None:
        eval_store.cache_put(self._session, entries, at)

    # gates
    def gate(self, prompt: str, label: str) -> dict[str, Any] | None:
        return eval_store.gate_get(self._session, prompt, label)

    def gates(self, prompt: str | None = None) -> list[dict[str, Any]]:
        return eval_store.gate_list(self._session, prompt)

    def put_gate(self, prompt: str, label: str, **fields: Any) -> None:
        eval_store.gate_put(self._session, prompt, label, **fields)

    def delete_gate(self, prompt: str, label: str) -> bool:
        return eval_store.gate_delete(self._session, prompt, label)


class WebhookRepository:
    """Webhook subscriptions, their delivery log and the dispatcher's lease (see
    :mod:`promptvault.storage.webhooks`); everything comes back as dicts."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def insert(self, **fields: Any) -> dict[str, Any]:
        return webhook_store.insert_webhook(self._session, **fields)

    def all(self) -> list[dict[str, Any]]:
        return webhook_store.webhooks(self._session)

    def enabled(self) -> list[dict[str, Any]]:
        return webhook_store.enabled_webhooks(self._session)

    def load(self, uid: str) -> dict[str, Any] | None:
        return webhook_store.load_webhook(self._session, uid)

    def update(
        self,
        webhook_id: int,
        *,
        cursor_was: int | None = None,
        enabled_only: bool = False,
        **fields: Any,
    ) -> bool:
        """Change fields (conditions: see :func:`storage.webhooks.update_webhook`); returns
        whether the subscription changed."""
        return webhook_store.update_webhook(
            self._session, webhook_id, cursor_was=cursor_was, enabled_only=enabled_only, **fields
        )

    def update_many(self, changes: list[tuple[int, int, dict[str, Any]]]) -> None:
        """Many conditional updates ``(id, cursor_was, fields)`` in one batched statement per
        set of fields (see :func:`storage.webhooks.update_webhooks`)."""
        webhook_store.update_webhooks(self._session, changes)

    def delete(self, webhook_id: int) -> None:
        webhook_store.delete_webhook(self._session, webhook_id)

    def insert_delivery(self, **fields: Any) -> int:
        return webhook_store.insert_delivery(self._session, **fields)

    def insert_deliveries(self, rows: list[dict[str, Any]]) -> None:
        webhook_store.insert_deliveries(self._session, rows)

    def prune_deliveries(self, *, before: datetime) -> int:
        return webhook_store.prune_deliveries(self._session, before=before)

    def deliveries(
        self, webhook_id: int, *, limit: int, before: int | None = None
    ) -> list[dict[str, Any]]:
        return webhook_store.deliveries(self._session, webhook_id, limit=limit, before=before)

    def delivery(self, delivery_id: int) -> dict[str, Any] | None:
        return webhook_store.delivery(self._session, delivery_id)

    def acquire_lease(self, name: str, *, holder: str, now: datetime, until: datetime) -> bool:
        return webhook_store.acquire_lease(self._session, name, holder=holder, now=now, until=until)

    def release_lease(self, name: str, *, holder: str, now: datetime) -> None:
        webhook_store.release_lease(self._session, name, holder=holder, now=now)


class _Repository(Generic[R]):
    """A repository made on a unit of work's first use of it, then kept in the instance.

    Most units of work touch one or two repositories (an API key check, a resolve miss),
    so none is built up front. Only ``__get__`` is defined: once the instance holds the
    repository, attribute lookup finds it there without calling this again.
    """

    def __init__(self, make: Callable[[Session], R]) -> None:
        self._make = make
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, work: None, owner: type) -> _Repository[R]: ...

    @overload
    def __get__(self, work: UnitOfWork, owner: type) -> R: ...

    def __get__(self, work: UnitOfWork | None, owner: type) -> R | _Repository[R]:
        if work is None:
            return self
        made = self._make(work._session)
        work.__dict__[self._name] = made
        return made


class UnitOfWork:
    """One transaction: its repositories, its audit chain, and a flush point."""

    prompts = _Repository(PromptRepository)
    experiments = _Repository(ExperimentRepository)
    evals = _Repository(EvalRepository)
    collections = _Repository(CollectionRepository)
    webhooks = _Repository(WebhookRepository)
    keys = _Repository(KeyRepository)
    ui_sessions = _Repository(UISessionRepository)
    audit_log = _Repository(AuditRepository)
    changes = _Repository(ChangeRepository)
    requests = _Repository(RequestRepository)

    def __init__(self, session: Session) -> None:
        self._session = session

    def audit(
        self,
        *,
        actor: str,
        action: str,
        target: str,
        details: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Append an audit entry in this transaction."""
        append(self._session, actor=actor, action=action, target=target, details=details, at=at)

    def flush(self) -> None:
        """Send pending changes, so later reads in this transaction see them."""
        self._session.flush()
