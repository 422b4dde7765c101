"""``promptvault eval``: run prompt versions over a dataset against a model, compare runs,
configure providers and eval gates. Works on the local database, or through a server
(``--server``): there a run goes on in the server's background while the command shows its
progress, and a run left ``interrupted`` by a stopping server finishes with ``--resume``.

CI use: ``promptvault eval run qa --prompt support@staging --fail-under exact=0.9
--junit out.xml`` exits 1 when a mean is below its threshold and writes JUnit XML.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from xml.etree import ElementTree as ET

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output
from promptvault.cli.datasets import eval_service, json_option

if TYPE_CHECKING:
    from collections.abc import Callable

    from promptvault.evals.models import Comparison, Run

__all__ = ["eval_app"]

eval_app = typer.Typer(
    help="Evaluations: run versions over a dataset against a model, compare, gate labels.",
    no_args_is_help=True,
)
providers_app = typer.Typer(help="Model providers (admin).", no_args_is_help=True)
gates_app = typer.Typer(help="Eval gates on labels.", no_args_is_help=True)
eval_app.add_typer(providers_app, name="providers")
eval_app.add_typer(gates_app, name="gate")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _usage(message: str, field: str) -> Exception:
    from promptvault.errors import InvalidInputError

    return InvalidInputError(message, details={"field": field})


def _thresholds(specs: list[str] | None, option: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for spec in specs or []:
        name, sep, value = spec.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or not name or not 0 <= number <= 1:
            raise _usage(f"{option} {spec!r} must look like EVALUATOR=0.9", option.lstrip("-"))
        out[name] = number
    return out


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=output.console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


@eval_app.command("run")
def run(  # noqa: PLR0917 - Typer passes every option positionally
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    prompts: Annotated[
        list[str] | None,
        typer.Option("--prompt", "-p", help="name@label or name@N; repeat to compare two."),
    ] = None,
    provider: Annotated[str | None, typer.Option("--provider", help="Provider name.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Override the model.")] = None,
    evaluators: Annotated[
        str | None,
        typer.Option("--evaluators", help='JSON list (default: the dataset\'s): [{"type": ...}]'),
    ] = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-c", min=1)] = None,
    fail_under: Annotated[
        list[str] | None,
        typer.Option("--fail-under", help="EVALUATOR=MIN mean; below it exit 1. Repeatable."),
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Finish an interrupted run (its id).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Call the model even for cached requests.")
    ] = False,
    json_: JsonFlag = False,
) -> None:
    """Run prompt versions over DATASET against a model and print their scores.

    \b
    Example:
      promptvault eval run support-qa --prompt support@production --prompt support@staging \\
          --concurrency 8 --fail-under exact=0.9 --junit eval.xml
    """
    minimums = _thresholds(fail_under, "--fail-under")
    refs: list[str | None] = list(prompts or [])
    if not refs and resume is None:
        raise _usage("name a prompt with --prompt name@label (or --resume RUN)", "prompt")
    if len(refs) > 2:
        raise _usage("at most two --prompt (a run and the one it is compared with)", "prompt")
    specs = json_option(evaluators, "evaluators")
    runs: list[Run] = []
    with eval_service() as evals:
        for ref in refs or [None]:  # no --prompt: the run named by --resume
            label = ref or f"run {resume}"
            with _progress(label) as progress:
                runs.append(
                    evals.run(
                        dataset,
                        ref,
                        provider=provider,
                        model=model,
                        evaluators=specs,
                        concurrency=concurrency,
                        resume=resume,
                        cache=not no_cache,
                        progress=progress,
                        actor=ctx.actor(),
                    )
                )
        comparison = evals.compare(runs[0].id, runs[1].id) if len(runs) == 2 else None
    failures = [
        f"{r.prompt}@{r.version} {name}: mean {_mean(r, name):.3f} < {minimum:g}"
        for r in runs
        for name, minimum in minimums.items()
        if _mean(r, name) < minimum
    ]
    if junit is not None:
        _write_junit(junit, runs, minimums)
    if ctx.want_json(json_):
        output.print_json(
            {
                "runs": [r.model_dump(mode="json", exclude={"results"}) for r in runs],
                "comparison": None
                if comparison is None
                else comparison.model_dump(mode="json", exclude={"cases"}),
                "failures": failures,
            }
        )
    else:
        for r in runs:
            _print_run(r)
        if comparison is not None:
            _print_comparison(comparison)
        for failure in failures:
            output.err(f"below threshold: {failure}")
    if failures:
        raise typer.Exit(1)


def _mean(run: Run, name: str) -> float:
    found = run.summary.evaluators.get(name) if run.summary else None
    return found.mean if found is not None else 0.0


def _print_run(r: Run) -> None:
    s = r.summary
    assert s is not None
    cost = f", cost ${s.cost:.4f} (${s.cost_total:.4f} without cache)" if s.cost_total else ""
    latency = f", p50 {s.latency_ms_p50:.0f} ms" if s.latency_ms_p50 is not None else ""
    output.out(
        f"run {r.id}: {r.prompt}@{r.version} on {r.dataset} v{r.dataset_version} "
        f"({r.provider}/{r.model}): {s.finished}/{s.cases} cases, {s.errors} errors, "
        f"{s.cached} cached{latency}, {s.input_tokens}+{s.output_tokens} tokens{cost}"
    )
    output.table(
        ["evaluator", "mean", "pass rate", "n"],
        [[e.name, f"{e.mean:.3f}", f"{e.pass_rate:.1%}", e.n] for e in s.evaluators.values()],
        empty="no evaluators",
    )


def _print_comparison(c: Comparison) -> None:
    output.out(f"{c.ref_b} vs {c.ref_a} on {c.n} cases ({len(c.flipped)} flipped):")
    output.table(
        ["evaluator", "A", "B", "B-A", f"{1 - c.alpha:.0%} CI", "p", "verdict"],
        [
            [
                e.name,
                f"{e.mean_a:.3f}",
                f"{e.mean_b:.3f}",
                f"{e.difference:+.3f}",
                f"[{e.ci_low:+.3f}, {e.ci_high:+.3f}]",
                f"{e.p_value:.3g}",
                e.verdict,
            ]
            for e in c.evaluators
        ],
    )
    for e in c.evaluators:
        if e.verdict == "cannot tell":
            output.note(e.explanation)


def _write_junit(path: Path, runs: list[Run], minimums: dict[str, float]) -> None:
    from promptvault._fileio import atomic_write

    root = ET.Element("testsuites", name="promptvault eval")
    for r in runs:
        results = r.results or []
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{r.dataset}:{r.prompt}@{r.version}",
            tests=str(len(results) + len(minimums)),
        )
        failures = errors = 0
        for result in results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{r.prompt}@{r.version}",
                name=result.key,
                time=f"{result.latency_ms / 1000:.3f}",
            )
            if result.error is not None:
                errors += 1
                ET.SubElement(case, "error", message=result.error[:500])
                continue
            failed = [s for s in result.scores if not s.passed]
            if failed:
                failures += 1
                ET.SubElement(
                    case,
                    "failure",
                    message="; ".join(f"{s.name}: {s.reason or 'failed'}" for s in failed)[:1000],
                ).text = result.output
        for name, minimum in minimums.items():
            case = ET.SubElement(
                suite, "testcase", classname=f"{r.prompt}@{r.version}", name=f"{name}>={minimum:g}"
            )
            if _mean(r, name) < minimum:
                failures += 1
                ET.SubElement(case, "failure", message=f"mean {_mean(r, name):.3f} < {minimum:g}")
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
    ET.indent(root)
    atomic_write(path, ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n")


@eval_app.command("list")
def list_runs(
    dataset: Annotated[str | None, typer.Option("--dataset", "-d")] = None,
    prompt: Annotated[str | None, typer.Option("--prompt", "-p")] = None,
    json_: JsonFlag = False,
) -> None:
    """Runs, newest first."""
    with eval_service() as evals:
        found = evals.runs(dataset=dataset, prompt=prompt)
    if ctx.want_json(json_):
        output.print_json([r.model_dump(mode="json") for r in found])
        return
    output.table(
        ["run", "prompt", "dataset", "status", "cases", "errors", "created"],
        [
            [
                r.id,
                f"{r.prompt}@{r.version}",
                f"{r.dataset} v{r.dataset_version}",
                r.status,
                r.summary.finished if r.summary else "",
                r.summary.errors if r.summary else "",
                output.format_time(r.created_at),
            ]
            for r in found
        ],
        empty="no runs",
    )


@eval_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    failures: Annotated[bool, typer.Option("--failures", help="Only failed cases.")] = False,
    json_: JsonFlag = False,
) -> None:
    """One run: its totals and per-case results."""
    with eval_service() as evals:
        found = evals.get_run(run_id)
    if ctx.want_json(json_):
        output.print_json(found.model_dump(mode="json"))
        return
    _print_run(found)
    rows = []
    for r in found.results or []:
        failed = r.error is not None or any(not s.passed for s in r.scores)
        if failures and not failed:
            continue
        text = r.error or (r.output or "")
        rows.append(
            [
                r.key,
                "error" if r.error else ("fail" if failed else "pass"),
                " ".join(f"{s.name}={s.score:.2f}" for s in r.scores),
                text if len(text) <= 60 else text[:57] + "...",
            ]
        )
    output.table(["case", "result", "scores", "output"], rows)


@eval_app.command("compare")
def compare(
    a: Annotated[str, typer.Argument(help="Baseline run id.")],
    b: Annotated[str, typer.Argument(help="Run compared with it.")],
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    json_: JsonFlag = False,
) -> None:
    """Compare run B with run A case by case, with paired tests per evaluator."""
    with eval_service() as evals:
        comparison = evals.compare(a, b, alpha=alpha)
    if ctx.want_json(json_):
        output.print_json(comparison.model_dump(mode="json"))
        return
    _print_comparison(comparison)
    for case in comparison.cases:
        if case.flipped:
            flips = ", ".join(f"{n}: {v}" for n, v in case.flipped.items())
            output.out(f"  {case.key}: {flips}")


@providers_app.command("set")
def provider_set(  # noqa: PLR0917 - Typer passes every option positionally
    name: Annotated[str, typer.Argument(help="Provider name.")],
    kind: Annotated[str, typer.Option("--kind", help="openai | anthropic")] = "openai",
    base_url: Annotated[str | None, typer.Option("--base-url")] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option("--api-key-env", help="Read the key from this environment variable."),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Default model.")] = None,
    json_: JsonFlag = False,
) -> None:
    """Store a provider; its key is encrypted with PROMPTVAULT_SECRET_KEY."""
    key = None
    if api_key_env is not None:
        key = os.environ.get(api_key_env)
        if not key:
            raise _usage(f"environment variable {api_key_env} is empty", "api-key-env")
    with eval_service() as evals:
        made = evals.set_provider(
            name, kind=kind, base_url=base_url, api_key=key, model=model, actor=ctx.actor()
        )
    if ctx.want_json(json_):
        output.print_json(made.model_dump(mode="json"))
        return
    output.out(f"provider {made.name} ({made.kind}) saved" + (", key stored" if key else ""))


@providers_app.command("list")
def provider_list(json_: JsonFlag = False) -> None:
    """Providers (never their keys)."""
    with eval_service() as evals:
        found = evals.providers()
    if ctx.want_json(json_):
        output.print_json([p.model_dump(mode="json") for p in found])
        return
    output.table(
        ["name", "kind", "base url", "model", "key", "from"],
        [
            [
                p.name,
                p.kind,
                p.base_url or "",
                p.model or "",
                "yes" if p.has_secret else "no",
                p.source,
            ]
            for p in found
        ],
        empty="no providers",
    )


@providers_app.command("remove")
def provider_remove(name: Annotated[str, typer.Argument(help="Provider name.")]) -> None:
    """Remove a stored provider."""
    with eval_service() as evals:
        evals.delete_provider(name, actor=ctx.actor())
    output.out(f"provider {name} removed")


@gates_app.command("set")
def gate_set(
    prompt: Annotated[str, typer.Argument(help="Prompt name.")],
    label: Annotated[str, typer.Argument(help="The gated label.")],
    dataset: Annotated[str, typer.Option("--dataset", "-d")],
    minimum: Annotated[list[str], typer.Option("--min", help="EVALUATOR=MIN mean; repeatable.")],
    alpha: Annotated[float, typer.Option("--alpha")] = 0.05,
) -> None:
    """Gate LABEL: promoting to it needs a passing run on DATASET."""
    with eval_service() as evals:
        gate = evals.set_gate(
            prompt,
            label,
            dataset=dataset,
            thresholds=_thresholds(minimum, "--min"),
            alpha=alpha,
            actor=ctx.actor(),
        )
    output.out(f"{gate.prompt}@{gate.label} is gated on {gate.dataset}")


@gates_app.command("list")
def gate_list(json_: JsonFlag = False) -> None:
    """Every eval gate."""
    with eval_service() as evals:
        found = evals.gates()
    if ctx.want_json(json_):
        output.print_json([g.model_dump(mode="json") for g in found])
        return
    output.table(
        ["prompt", "label", "dataset", "thresholds", "alpha"],
        [
            [
                g.prompt,
                g.label,
                g.dataset,
                ", ".join(f"{k}>={v:g}" for k, v in g.thresholds.items()),
                g.alpha,
            ]
            for g in found
        ],
        empty="no gates",
    )


@gates_app.command("remove")
def gate_remove(
    prompt: Annotated[str, typer.Argument(help="Prompt name.")],
    label: Annotated[str, typer.Argument(help="The gated label.")],
) -> None:
    """Remove a gate."""
    with eval_service() as evals:
        evals.delete_gate(prompt, label, actor=ctx.actor())
    output.out(f"gate on {prompt}@{label} removed")
