# Generated from _evals_async.py by scripts/unasync.py: do not edit, change the source and
# run `python scripts/unasync.py`.
"""``client.evals`` of the SDK: datasets, providers, runs, comparisons and gates, through the
server, with the method names of the library's ``vault.evals``.

So the CLI drives either one: who acts is the API key's name, so ``actor`` arguments are
accepted and ignored. A run started here runs in the server's background; :meth:`run`
starts it and waits for it (polling ``GET /v1/evals/runs/{id}``), :meth:`start_run` only
starts it. Evaluators are JSON specs here (a Python callable works only in the library).

Generated from ``_evals_async.py`` (the hand-written source) by
``scripts/unasync.py`` (CI runs it with ``--check``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from promptvault.client import _evals_api as api
from promptvault.client._api import Call
from promptvault.errors import InvalidInputError, PromptVaultError
from promptvault.evals.models import (
    Case,
    Comparison,
    Dataset,
    DatasetChange,
    Gate,
    Provider,
    Run,
)

__all__ = ["ClientEvals"]

Format = Literal["jsonl", "csv"]
Progress = Callable[[int, int], None]
Keys = Sequence[str]


class ClientEvals:
    """``client.evals``: the same methods as ``vault.evals`` (JSON evaluators only)."""

    def __init__(
        self,
        call: Callable[[Call[Any]], Any],
        sleep: Callable[[float], None],
    ) -> None:
        self._call = call
        self._sleep = sleep

    # --- datasets -----------------------------------------------------------------------

    def datasets(self) -> list[Dataset]:
        """Every dataset, by name."""
        found: list[Dataset] = self._call(api.datasets())
        return found

    def dataset(self, name: str) -> Dataset:
        """One dataset's current state."""
        found: Dataset = self._call(api.dataset(name))
        return found

    def cases(self, name: str, *, version: int | None = None) -> list[Case]:
        """The cases of ``name`` at ``version`` (default: the current one)."""
        found: list[Case] = self._call(api.cases(name, version))
        return found

    def create_dataset(
        self,
        name: str,
        *,
        description: str = "",
        evaluators: Sequence[Mapping[str, Any]] = (),
        cases: Sequence[Mapping[str, Any] | Case] = (),
        actor: str = "",
    ) -> Dataset:
        """A new dataset, optionally with its first cases and evaluators."""
        body = {
            "name": name,
            "description": description,
            "evaluators": [dict(e) for e in evaluators],
            "cases": [api.case_body(c) for c in cases],
        }
        made: Dataset = self._call(api.create_dataset(body))
        return made

    def update_dataset(
        self,
        name: str,
        *,
        description: str | None = None,
        evaluators: Sequence[Mapping[str, Any]] | None = None,
        actor: str = "",
    ) -> Dataset:
        """Change the description and/or the default evaluators (a new version)."""
        body: dict[str, Any] = {}
        if description is not None:
            body["description"] = description
        if evaluators is not None:
            body["evaluators"] = [dict(e) for e in evaluators]
        changed: Dataset = self._call(api.update_dataset(name, body))
        return changed

    def add_cases(
        self, name: str, cases: Sequence[Mapping[str, Any] | Case], *, actor: str = ""
    ) -> DatasetChange:
        """Add cases (one new version)."""
        body = [api.case_body(c) for c in cases]
        change: DatasetChange = self._call(api.add_cases(name, body))
        return change

    def edit_case(
        self, name: str, key: str, case: Mapping[str, Any] | Case, *, actor: str = ""
    ) -> DatasetChange:
        """Replace one case (its key stays ``key``)."""
        body = {k: v for k, v in api.case_body(case).items() if k != "key"}
        change: DatasetChange = self._call(api.edit_case(name, key, body))
        return change

    def delete_cases(self, name: str, keys: Keys, *, actor: str = "") -> DatasetChange:
        """Remove cases in one new version; nothing is removed when a key is unknown."""
        if not keys:
            raise InvalidInputError("name the cases to remove", details={"field": "keys"})
        call = api.delete_case(name, keys[0]) if len(keys) == 1 else api.delete_cases(name, keys)
        change: DatasetChange = self._call(call)
        return change

    def import_cases(
        self,
        name: str,
        source: str | Path,
        *,
        fmt: Format | None = None,
        partial: bool = False,
        replace: bool = False,
        actor: str = "",
    ) -> DatasetChange:
        """Import JSONL or CSV (``source`` is a path, or the text itself); all or nothing
        unless ``partial``. A missing dataset is created."""
        text, chosen = _read_source(source, fmt)
        body = {"format": chosen, "content": text, "partial": partial, "replace": replace}
        change: DatasetChange = self._call(api.import_cases(name, body))
        return change

    def export_cases(
        self,
        name: str,
        path: str | Path | None = None,
        *,
        fmt: Format = "jsonl",
        version: int | None = None,
    ) -> str:
        """The cases as JSONL or CSV text; also written to ``path`` when given."""
        text: str = self._call(api.export_cases(name, fmt, version))
        if path is not None:
            from promptvault._fileio import atomic_write

            atomic_write(Path(path), text)
        return text

    # --- providers ----------------------------------------------------------------------

    def providers(self) -> list[Provider]:
        """Stored and settings providers (never their secrets)."""
        found: list[Provider] = self._call(api.providers())
        return found

    def set_provider(
        self,
        name: str,
        *,
        kind: str,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        options: Mapping[str, Any] | None = None,
        actor: str = "",
    ) -> Provider:
        """Create or replace a provider (admin keys); ``api_key`` is write-only."""
        body: dict[str, Any] = {"kind": kind, "options": dict(options or {})}
        for field, value in (("base_url", base_url), ("api_key", api_key), ("model", model)):
            if value is not None:
                body[field] = value
        made: Provider = self._call(api.set_provider(name, body))
        return made

    def delete_provider(self, name: str, *, actor: str = "") -> None:
        """Remove a stored provider (admin keys)."""
        self._call(api.delete_provider(name))

    # --- runs ---------------------------------------------------------------------------

    def start_run(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        provider: str | None = None,
        model: str | None = None,
        evaluators: Sequence[Mapping[str, Any]] | None = None,
        concurrency: int | None = None,
        resume: str | None = None,
        cache: bool = True,
    ) -> Run:
        """Start a run (or resume an interrupted one) on the server and return it as
        recorded, status ``running``: every error that refuses the run is raised here."""
        body = api.run_body(
            dataset=dataset,
            ref=ref,
            provider=provider,
            model=model,
            evaluators=evaluators,
            concurrency=concurrency,
            resume=resume,
            cache=cache,
        )
        started: Run = self._call(api.start_run(body))
        return started

    def wait_run(
        self,
        run_id: str,
        *,
        progress: Progress | None = None,
        poll_interval: float = 0.5,
        timeout: float | None = None,
    ) -> Run:
        """Poll a run until it is no longer ``running`` and return it with its results;
        ``progress(done, total)`` is called after each poll. An ``interrupted`` run is
        returned as it is (resume it with ``start_run(..., resume=run.id)``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            found = self.get_run(run_id, results=False)
            if progress is not None and found.progress is not None:
                progress(found.progress.done, found.progress.total)
            if found.status != "running":
                return self.get_run(run_id)
            if deadline is not None and time.monotonic() >= deadline:
                raise PromptVaultError(
                    f"run {run_id} is still running after {timeout:g}s",
                    details={"field": "timeout", "run": run_id},
                )
            self._sleep(poll_interval)

    def run(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        provider: str | None = None,
        model: str | None = None,
        evaluators: Sequence[Mapping[str, Any]] | None = None,
        concurrency: int | None = None,
        resume: str | None = None,
        cache: bool = True,
        progress: Progress | None = None,
        poll_interval: float = 0.5,
        actor: str = "",
    ) -> Run:
        """Run ``ref`` over ``dataset`` on the server and wait for the finished run (as
        ``vault.evals.run`` does locally)."""
        started = self.start_run(
            dataset,
            ref,
            provider=provider,
            model=model,
            evaluators=evaluators,
            concurrency=concurrency,
            resume=resume,
            cache=cache,
        )
        return self.wait_run(started.id, progress=progress, poll_interval=poll_interval)

    def get_run(self, run_id: str, *, results: bool = True) -> Run:
        """A run, with its per-case results unless ``results=False``."""
        found: Run = self._call(api.get_run(run_id, results=results))
        return found

    def runs(
        self, *, dataset: str | None = None, prompt: str | None = None, limit: int = 100
    ) -> list[Run]:
        """Runs newest first (without their results)."""
        found: list[Run] = self._call(api.runs(dataset, prompt, limit))
        return found

    def compare(self, a: str, b: str, *, alpha: float = 0.05) -> Comparison:
        """Run ``b`` against run ``a``: per case, per evaluator, paired tests."""
        found: Comparison = self._call(api.compare(a, b, alpha))
        return found

    # --- gates --------------------------------------------------------------------------

    def gates(self, prompt: str | None = None) -> list[Gate]:
        """Every eval gate (of one prompt when given)."""
        found: list[Gate] = self._call(api.gates(prompt))
        return found

    def set_gate(
        self,
        prompt: str,
        label: str,
        *,
        dataset: str,
        thresholds: Mapping[str, float],
        alpha: float = 0.05,
        actor: str = "",
    ) -> Gate:
        """Create or replace the gate on a prompt's label (admin keys)."""
        body = {
            "prompt": prompt,
            "label": label,
            "dataset": dataset,
            "thresholds": dict(thresholds),
            "alpha": alpha,
        }
        made: Gate = self._call(api.set_gate(body))
        return made

    def delete_gate(self, prompt: str, label: str, *, actor: str = "") -> None:
        """Remove the gate on a prompt's label (admin keys)."""
        self._call(api.delete_gate(prompt, label))


def _read_source(source: str | Path, fmt: Format | None) -> tuple[str, Format]:
    if isinstance(source, Path):
        try:
            text = source.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(
                f"cannot read {source}: {exc}", details={"field": "path"}
            ) from None
        return text, fmt or ("csv" if source.suffix.lower() == ".csv" else "jsonl")
    return source, fmt or "jsonl"
