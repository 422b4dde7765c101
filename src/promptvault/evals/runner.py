"""Run the cases of one run: bounded concurrency, the response cache, results as they finish.

Requests are built before anything is sent (a case whose variables do not fit the prompt's
schema refuses the run before it costs anything). ``concurrency`` workers then take cases
from one queue; each case is answered from the cache (a digest of the exact request and
endpoint) or by the model, scored, and handed to a writer that commits results in one
transaction per time slice while the model calls go on, so an interrupted run loses at
most the results of the slice in flight, and a resumed run skips every case already
committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptvault.errors import PromptVaultError
from promptvault.evals.evaluators import Evaluator
from promptvault.evals.models import Case, Score
from promptvault.evals.providers import (
    Completion,
    ModelClient,
    ProviderConfig,
    Sleep,
    call_with_retries,
)

__all__ = ["Job", "ResultWriter", "execute", "request_key"]

Progress = Callable[[int, int], None]


def request_key(provider: ProviderConfig, request: Mapping[str, Any]) -> str:
    """The cache key of a request: endpoint kind, base URL and the exact arguments."""
    blob = json.dumps(
        [provider.kind, provider.base_url or "", request],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Job:
    """One case to run: its built request and that request's cache key."""

    case: Case
    request: dict[str, Any]
    key: str


class ResultWriter:
    """Collects finished cases and commits them from a thread (``save``), so the event loop
    never waits on the database while model calls are in flight.

    One commit per time slice: the first result after a commit waits at most ``interval``
    seconds for company (less when ``batch`` results gather first). A transaction per
    finished case costs more CPU than the case itself, and a commit running in the writer
    thread holds the interpreter lock the model calls need; a slice bounds both to a few
    commits a second, and an interrupted run loses at most the slice in flight. With
    ``keepalive``, a writer that had nothing to commit for that long calls ``save`` with
    nothing (the run's lease is renewed with every commit). A ``save`` that raises stops the
    writer, and :meth:`close` raises its error."""

    def __init__(
        self,
        save: Callable[[list[dict[str, Any]], dict[str, dict[str, Any]]], None],
        *,
        batch: int = 256,
        interval: float = 0.1,
        keepalive: float | None = None,
    ) -> None:
        self._save = save
        self._batch = batch
        self._interval = interval
        self._keepalive = keepalive
        self._results: list[dict[str, Any]] = []
        self._cache: dict[str, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._slice_end = 0.0

    def start(self) -> asyncio.Task[None]:
        """Start the writer (or return it, started): a task that ends before :meth:`close`
        only when a ``save`` failed."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return self._task

    def add(self, result: dict[str, Any], cache: tuple[str, dict[str, Any]] | None) -> None:
        self._results.append(result)
        if cache is not None:
            self._cache[cache[0]] = cache[1]
        if len(self._results) == 1:  # a slice starts
            self._slice_end = asyncio.get_running_loop().time() + self._interval
            self._wake.set()
        elif len(self._results) == self._batch:
            self._wake.set()
        self.start()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_commit = loop.time()
        while not (self._closing and not self._results):
            if not self._closing and len(self._results) < self._batch:
                if self._results:
                    wait: float | None = self._slice_end - loop.time()
                elif self._keepalive is not None:
                    wait = last_commit + self._keepalive - loop.time()
                else:
                    wait = None
                if wait is None or wait > 0:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
                    continue  # woken or timed out: look again
            results, self._results = self._results[: self._batch], self._results[self._batch :]
            if self._results:  # more than a batch: the rest makes the next slice
                self._slice_end = loop.time() + self._interval
            keys = {r["cache_key"] for r in results if r.get("cache_key")}
            cache = {k: self._cache.pop(k) for k in list(self._cache) if k in keys}
            last_commit = loop.time()
            await asyncio.to_thread(self._save, results, cache)

    async def close(self) -> None:
        """Commit every collected result (at once: no slice wait) and stop; raises what a
        failed ``save`` raised."""
        self._closing = True
        self._wake.set()
        if self._task is None and not self._results:
            return
        await asyncio.shield(self.start())


async def execute(
    jobs: Sequence[Job],
    *,
    provider: ProviderConfig,
    client: ModelClient,
    cached: Mapping[str, Mapping[str, Any]],
    evaluators: Sequence[Evaluator],
    writer: ResultWriter,
    concurrency: int,
    prices: Mapping[str, Mapping[str, float]],
    progress: Progress | None = None,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Run ``jobs`` with at most ``concurrency`` model calls at once."""
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    total = len(jobs)
    done = 0
    seen: dict[str, asyncio.Future[Completion]] = {}

    async def answer(job: Job) -> tuple[Completion, float, bool]:
        hit = cached.get(job.key)
        if hit is not None:
            return (
                Completion(hit["text"], hit["input_tokens"], hit["output_tokens"]),
                float(hit.get("latency_ms", 0.0)),
                True,
            )
        started = time.perf_counter()
        pending = seen.get(job.key)  # the same request twice in one run is sent once
        if pending is not None:
            completion = await asyncio.shield(pending)
            return completion, (time.perf_counter() - started) * 1000, True
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        seen[job.key] = future
        try:
            completion = await call_with_retries(
                lambda: client.complete(job.request),
                max_retries=provider.max_retries,
                provider=provider.name,
                sleep=sleep,
            )
        except BaseException as exc:
            del seen[job.key]
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when unshared
            raise
        future.set_result(completion)
        return completion, (time.perf_counter() - started) * 1000, False

    async def one(job: Job) -> None:
        nonlocal done
        result: dict[str, Any] = {"case_key": job.case.key, "scores": [], "cache_key": None}
        cache_entry = None
        try:
            completion, latency, hit = await answer(job)
        except PromptVaultError as exc:
            result.update(
                output=None,
                latency_ms=0.0,
                input_tokens=0,
                output_tokens=0,
                cost=None,
                cached=False,
                error=exc.message,
            )
        else:
            scores = [await e.score(completion.text, job.case) for e in evaluators]
            model = str(job.request.get("model", ""))
            result.update(
                output=completion.text,
                latency_ms=round(latency, 3),
                input_tokens=completion.input_tokens,
                output_tokens=completion.output_tokens,
                cost=_cost(prices.get(model), completion),
                cached=hit,
                error=None,
                scores=[_score_dict(s) for s in scores],
            )
            if not hit:
                cache_entry = (job.key, {**completion._asdict(), "latency_ms": latency})
                result["cache_key"] = job.key
        writer.add(result, cache_entry)
        done += 1
        if progress is not None:
            progress(done, total)

    async def worker() -> None:
        while True:
            try:
                job = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await one(job)

    writing = writer.start()
    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, total)))]
    calls = asyncio.gather(*workers)
    try:
        # A writer that stopped (its commit refused: the run was taken over) stops the
        # calls too: their results could not be recorded.
        either: list[asyncio.Future[Any]] = [calls, writing]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if calls.done():
            calls.result()
    finally:
        for task in workers:
            task.cancel()
        await writer.close()


def _cost(price: Mapping[str, float] | None, completion: Completion) -> float | None:
    if not price:
        return None
    per_input = float(price.get("input", 0.0))
    per_output = float(price.get("output", 0.0))
    return (completion.input_tokens * per_input + completion.output_tokens * per_output) / 1e6


def _score_dict(score: Score) -> dict[str, Any]:
    return {
        "name": score.name,
        "score": score.score,
        "passed": score.passed,
        "reason": score.reason,
    }
