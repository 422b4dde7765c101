"""Runs: start (or resume) a run of a prompt version over a dataset, and read runs back."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from promptvault.errors import (
    ConflictError,
    EvalRunNotFound,
    InvalidInputError,
    PromptVaultError,
)
from promptvault.evals.blocking import blocking, run_sync
from promptvault.evals.datasets import load_dataset
from promptvault.evals.evaluators import (
    Evaluator,
    EvaluatorDeps,
    EvaluatorFn,
    build_evaluators,
)
from promptvault.evals.lease import lease_lost, process_owner
from promptvault.evals.models import Case, ModelAnswer, Run
from promptvault.evals.providers import (
    ClientPool,
    ProviderConfig,
    Sleep,
    call_with_retries,
    make_client,
)
from promptvault.evals.run_view import run_entity, shown_status
from promptvault.evals.runner import Job, Progress, ResultWriter, execute, request_key
from promptvault.evals.summary import summarize
from promptvault.storage.unit_of_work import utcnow

if TYPE_CHECKING:
    from promptvault.builder.builder import BuiltRequest
    from promptvault.config import Settings
    from promptvault.entities import PromptVersion
    from promptvault.storage.database import Database
    from promptvault.storage.unit_of_work import UnitOfWork

__all__ = ["PreparedRun", "RunsMixin"]

EvaluatorItem = Mapping[str, Any] | EvaluatorFn


@dataclass(frozen=True)
class PreparedRun:
    """A run recorded as ``running`` whose model calls have not started: ``run`` as it
    stands, and ``execute(progress)`` to call the model for its pending cases."""

    run: Run
    execute: Callable[[Progress | None], Awaitable[Run]]


class RunsMixin:
    """The runs half of :class:`~promptvault.evals.service.EvalService`."""

    _db: Database
    _settings: Settings
    _build: Callable[[str, Mapping[str, Any]], BuiltRequest]
    _resolve: Callable[[str], PromptVersion]
    _embed: Callable[[str, list[str]], list[list[float]]] | None
    _sleep: Sleep

    provider_config: Callable[[str | None], ProviderConfig]

    # --- reads --------------------------------------------------------------------------

    def get_run(self, run_id: str, *, results: bool = True) -> Run:
        """A run, with its per-case results unless ``results=False``."""
        with self._db.read_work() as work:
            row = work.evals.run(run_id)
            if row is None:
                raise EvalRunNotFound(
                    f"no evaluation run {run_id!r}", details={"field": "run", "run": run_id}
                )
            stored = work.evals.results(run_id) if results else None
            counts = work.evals.result_counts([run_id])
        return run_entity(row, stored, counts.get(run_id, (0, 0)), utcnow())

    def runs(
        self,
        *,
        dataset: str | None = None,
        prompt: str | None = None,
        version: int | None = None,
        limit: int = 100,
    ) -> list[Run]:
        """Runs newest first (without their results)."""
        with self._db.read_work() as work:
            dataset_id = None if dataset is None else load_dataset(work, dataset)["id"]
            rows = work.evals.runs(
                dataset_id=dataset_id, prompt=prompt, version=version, limit=limit
            )
            counts = work.evals.result_counts([r["id"] for r in rows])
        now = utcnow()
        return [run_entity(r, None, counts.get(r["id"], (0, 0)), now) for r in rows]

    # --- one call -----------------------------------------------------------------------

    def complete(
        self, built: BuiltRequest, *, provider: str | None = None, model: str | None = None
    ) -> ModelAnswer:
        """Send one built request to a provider (retries as in a run, no cache): what the
        playground's Run button shows."""
        config = self.provider_config(provider)
        chosen = model or built.model or config.model
        built = built._replace(model=chosen)
        request = built.to_anthropic() if config.kind == "anthropic" else built.to_openai()

        async def call() -> ModelAnswer:
            client = make_client(config)
            started = time.perf_counter()
            try:
                answer = await call_with_retries(
                    lambda: client.complete(request),
                    max_retries=config.max_retries,
                    provider=config.name,
                    sleep=self._sleep,
                )
            finally:
                await client.aclose()
            price = self._settings.eval_prices.get(str(request.get("model", "")))
            cost = None
            if price:
                cost = (
                    answer.input_tokens * float(price.get("input", 0.0))
                    + answer.output_tokens * float(price.get("output", 0.0))
                ) / 1e6
            return ModelAnswer(
                provider=config.name,
                model=str(request.get("model")) if request.get("model") else None,
                text=answer.text,
                input_tokens=answer.input_tokens,
                output_tokens=answer.output_tokens,
                latency_ms=(time.perf_counter() - started) * 1000,
                cost=cost,
            )

        return run_sync(call())

    # --- running ------------------------------------------------------------------------

    async def arun(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        provider: str | None = None,
        model: str | None = None,
        evaluators: Sequence[EvaluatorItem] | None = None,
        concurrency: int | None = None,
        resume: str | None = None,
        cache: bool = True,
        progress: Progress | None = None,
        actor: str = "",
    ) -> Run:
        """Run a prompt version over a dataset against a model, and return the finished run.

        Each case is built exactly as ``vault.build(ref, case.variables)`` builds it (its
        variables checked against the version's schema: one bad case refuses the run before
        any call), sent with at most ``concurrency`` calls at once, answered from the
        response cache when the identical request was answered before (``cache=False`` to
        always call), and scored by ``evaluators`` (default: the dataset's). The model is the
        version config's unless ``model`` overrides it (else the provider's default).
        ``resume`` names an earlier run: its finished cases are skipped and the rest run
        with its prompt version, dataset version, provider and model.
        """
        prepared = self.prepare_run(
            dataset,
            ref,
            provider=provider,
            model=model,
            evaluators=evaluators,
            concurrency=concurrency,
            resume=resume,
            cache=cache,
            actor=actor,
        )
        return await prepared.execute(progress)

    def prepare_run(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        provider: str | None = None,
        model: str | None = None,
        evaluators: Sequence[EvaluatorItem] | None = None,
        concurrency: int | None = None,
        resume: str | None = None,
        cache: bool = True,
        actor: str = "",
    ) -> PreparedRun:
        """Check and record a run (status ``running``) without calling any model yet.

        Everything that can refuse the run happens here: the reference, the dataset, the
        provider, every case's variables against the prompt's schema. The run is then in
        the database (a resumed one back to ``running``), and ``await
        prepared.execute()`` calls the model for its pending cases, anywhere: the server
        starts it in the background and answers at once with :attr:`PreparedRun.run`.
        """
        actor = actor or self._db.default_actor
        limit = concurrency or self._settings.eval_concurrency
        if limit < 1:
            raise InvalidInputError(
                "concurrency must be at least 1", details={"field": "concurrency"}
            )
        if resume is not None:
            row, cases, done = self._resumable(resume)
            config = self.provider_config(row["provider"])
            specs: Sequence[EvaluatorItem] = (
                evaluators
                if evaluators is not None
                else [e for e in row["evaluators"] if e.get("type") != "python"]
            )
            run_id, target, model = resume, f"{row['prompt']}@{row['version']}", row["model"]
            pending = [c for c in cases if c.key not in done]
        else:
            if ref is None:
                raise InvalidInputError("name the prompt to run", details={"field": "prompt"})
            config = self.provider_config(provider)
            version = self._resolve(ref)
            with self._db.read_work() as work:
                stored = load_dataset(work, dataset)
                cases = [Case(**c) for c in work.evals.cases_at(stored["id"], stored["version"])]
            specs = evaluators if evaluators is not None else list(stored["evaluators"])
            run_id, target = secrets.token_hex(8), f"{version.name}@{version.version}"
            pending = cases
        clients = ClientPool()
        deps = EvaluatorDeps(embed=self._embed, judge=self._judge_fn(config, clients))
        built_evaluators = build_evaluators(specs, deps)
        jobs, model_used = self._jobs(target, pending, config, model)
        if resume is None:
            self._start(
                run_id,
                dataset=stored,
                version=version,
                ref=ref or target,
                config=config,
                model=model_used,
                specs=specs,
                total=len(cases),
                actor=actor,
            )
        else:
            self._restart(run_id, pending=len(jobs), actor=actor)

        async def execute(progress: Progress | None = None) -> Run:
            return await self._execute(
                run_id,
                resumed=resume is not None,
                jobs=jobs,
                config=config,
                clients=clients,
                evaluators=built_evaluators,
                concurrency=limit,
                use_cache=cache,
                progress=progress,
                actor=actor,
            )

        return PreparedRun(self.get_run(run_id, results=False), execute)

    run = blocking(arun, "run")
    """:meth:`arun` for synchronous code (in a notebook's running loop too)."""

    # --- steps --------------------------------------------------------------------------

    def _resumable(self, run_id: str) -> tuple[dict[str, Any], list[Case], set[str]]:
        with self._db.read_work() as work:
            row = work.evals.run(run_id)
            if row is None:
                raise EvalRunNotFound(
                    f"no evaluation run {run_id!r} to resume", details={"field": "resume"}
                )
            cases = [
                Case(**c) for c in work.evals.cases_at(row["dataset_id"], row["dataset_version"])
            ]
            done = work.evals.result_keys(run_id, with_errors=False)
        return row, cases, done

    def _jobs(
        self, target: str, cases: Sequence[Case], config: ProviderConfig, model: str | None
    ) -> tuple[list[Job], str | None]:
        jobs: list[Job] = []
        problems: list[dict[str, Any]] = []
        chosen: str | None = model
        for case in cases:
            try:
                built = self._build(target, case.variables)
                use = model or built.model or config.model
                built = built._replace(model=use)
                chosen = use
                request = built.to_anthropic() if config.kind == "anthropic" else built.to_openai()
            except PromptVaultError as exc:
                field = str(exc.details.get("field", ""))
                problems.append({"key": case.key, "field": field, "message": exc.message})
                continue
            jobs.append(Job(case, request, request_key(config, request)))
        if problems:
            first = problems[0]
            raise InvalidInputError(
                f"case {first['key']!r}: {first['message']}"
                + (f" (and {len(problems) - 1} more cases)" if len(problems) > 1 else ""),
                details={
                    "field": f"cases.{first['key']}.{first['field']}".rstrip("."),
                    "problems": problems[:100],
                },
            )
        return jobs, chosen

    def _start(
        self,
        run_id: str,
        *,
        dataset: Mapping[str, Any],
        version: PromptVersion,
        ref: str,
        config: ProviderConfig,
        model: str | None,
        specs: Sequence[EvaluatorItem],
        total: int,
        actor: str,
    ) -> None:
        stored_specs = [
            dict(s) if isinstance(s, Mapping) else {"type": "python", "name": _fn_name(s)}
            for s in specs
        ]

        def change(work: UnitOfWork) -> None:
            work.evals.insert_run(
                id=run_id,
                dataset_id=dataset["id"],
                dataset_version=dataset["version"],
                prompt=version.name,
                version=version.version,
                ref=ref,
                provider=config.name,
                model=model,
                evaluators=stored_specs,
                status="running",
                total=total,
                summary=None,
                created_at=utcnow(),
                created_by=actor,
                finished_at=None,
                owner=process_owner(),
                lease_until=utcnow() + timedelta(seconds=self._settings.eval_lease),
            )
            work.audit(
                actor=actor,
                action="eval.run",
                target=f"dataset:{dataset['name']}",
                details={
                    "run": run_id,
                    "prompt": version.name,
                    "version": version.version,
                    "dataset_version": dataset["version"],
                    "provider": config.name,
                    "model": model,
                },
            )

        self._db.write_work(change)

    def _restart(self, run_id: str, *, pending: int, actor: str) -> None:
        def change(work: UnitOfWork) -> None:
            row = work.evals.run(run_id)
            assert row is not None
            now = utcnow()
            until = now + timedelta(seconds=self._settings.eval_lease)
            if not work.evals.claim_run(run_id, owner=process_owner(), until=until, now=now):
                raise ConflictError(
                    f"run {run_id!r} is still running; resume it once it is interrupted",
                    details={"field": "resume", "run": run_id},
                )
            work.audit(
                actor=actor,
                action="eval.resume",
                target=f"dataset:{row['dataset']}",
                details={
                    "run": run_id,
                    "pending": pending,
                    "was": shown_status(row["status"], row["lease_until"], now),
                },
            )

        self._db.write_work(change)

    async def _execute(
        self,
        run_id: str,
        *,
        resumed: bool,
        jobs: list[Job],
        config: ProviderConfig,
        clients: ClientPool,
        evaluators: list[Evaluator],
        concurrency: int,
        use_cache: bool,
        progress: Progress | None,
        actor: str,
    ) -> Run:
        cached: dict[str, dict[str, Any]] = {}
        if use_cache and jobs:
            with self._db.read_work() as work:
                cached = work.evals.cached([j.key for j in jobs])

        owner, lease = process_owner(), self._settings.eval_lease

        def save(results: list[dict[str, Any]], entries: dict[str, dict[str, Any]]) -> None:
            now = utcnow()
            rows = [{k: v for k, v in r.items() if k != "cache_key"} | {"at": now} for r in results]

            def write(work: UnitOfWork) -> None:
                # Renewing first fences the results: a process whose run was resumed
                # elsewhere (its lease ran out) records nothing the new owner might redo.
                until = now + timedelta(seconds=lease)
                if not work.evals.renew_run(run_id, owner=owner, until=until):
                    raise lease_lost(run_id)
                work.evals.save_results(run_id, rows, replace=resumed)
                if entries:
                    work.evals.cache(entries, now)

            self._db.write_work(write, serial=False)

        # The first commit renews the lease before any call: a run prepared long ago and
        # claimed by a resume elsewhere since stops here.
        await asyncio.to_thread(save, [], {})
        writer = ResultWriter(save, keepalive=lease / 3)
        client = clients.get(config)
        status = "interrupted"
        try:
            await execute(
                jobs,
                provider=config,
                client=client,
                cached=cached,
                evaluators=evaluators,
                writer=writer,
                concurrency=concurrency,
                prices=self._settings.eval_prices,
                progress=progress,
                sleep=self._sleep,
            )
            status = "finished"
        finally:
            await clients.aclose()
            await asyncio.to_thread(self._finish, run_id, status, actor, owner)
        return self.get_run(run_id)

    def _finish(self, run_id: str, status: str, actor: str, owner: str) -> None:
        def change(work: UnitOfWork) -> None:
            row = work.evals.run(run_id)
            assert row is not None
            summary = summarize(row["total"], work.evals.results(run_id))
            if not work.evals.update_run(
                run_id,
                owner=owner,
                status=status,
                summary=summary.model_dump(mode="json"),
                finished_at=utcnow() if status == "finished" else None,
                lease_until=None,
            ):
                return  # resumed by another process, which finishes it
            work.audit(
                actor=actor,
                action="eval.finish" if status == "finished" else "eval.interrupt",
                target=f"dataset:{row['dataset']}",
                details={"run": run_id, "finished": summary.finished, "errors": summary.errors},
            )

        self._db.write_work(change)

    def _judge_fn(
        self, default: ProviderConfig, clients: ClientPool
    ) -> Callable[[Mapping[str, Any], Mapping[str, Any]], Any]:
        configs: dict[str, ProviderConfig] = {default.name: default}

        async def judge(spec: Mapping[str, Any], variables: Mapping[str, Any]) -> str:
            name = spec.get("provider") or default.name
            if name not in configs:
                configs[name] = self.provider_config(name)
            config = configs[name]
            client = clients.get(config)
            built = self._build(str(spec["prompt"]), variables)
            built = built._replace(model=spec.get("model") or built.model or config.model)
            request = built.to_anthropic() if config.kind == "anthropic" else built.to_openai()
            answer = await call_with_retries(
                lambda: client.complete(request),
                max_retries=config.max_retries,
                provider=config.name,
                sleep=self._sleep,
            )
            return answer.text

        return judge


def _fn_name(fn: Any) -> str:
    return str(getattr(fn, "__name__", "custom"))
