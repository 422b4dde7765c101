"""``promptvault experiment``: create, start, ramp, stop, conclude, report, list, check.

Works on the local database (``vault.experiments``) or, in remote mode, through the SDK
(``client.experiments``): both offer the same methods.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output

__all__ = ["experiment_app"]

experiment_app = typer.Typer(
    help="A/B experiments on prompt versions: split traffic, analyse, promote the winner.",
    no_args_is_help=True,
)


def _usage(message: str, field: str) -> Exception:
    from promptvault.errors import InvalidInputError

    return InvalidInputError(message, details={"field": field})


def _variant(spec: str) -> dict[str, Any]:
    """``NAME=VERSION[:WEIGHT]``; VERSION is a number or a label."""
    name, sep, rest = spec.partition("=")
    if not sep or not name or not rest:
        raise _usage(f"--variant {spec!r} must look like NAME=VERSION[:WEIGHT]", "variant")
    version, _, weight = rest.partition(":")
    # ASCII digits only: "²" or "٣" go on as text and are refused as a version, never int()ed.
    number = version.isascii() and version.isdigit()
    out: dict[str, Any] = {"name": name, "version": int(version) if number else version}
    if weight:
        try:
            out["weight"] = float(weight)
        except ValueError:
            raise _usage(
                f"--variant {spec!r}: weight {weight!r} is not a number", "variant"
            ) from None
    return out


def _metric(spec: str, *, guardrail: bool = False) -> dict[str, Any]:
    """``NAME[:KIND[:DIRECTION]]`` (guardrails: ``[:TOLERANCE]`` too)."""
    parts = spec.split(":")
    keys = (
        ["name", "kind", "direction", "tolerance"] if guardrail else ["name", "kind", "direction"]
    )
    if not parts[0] or len(parts) > len(keys):
        shape = "NAME[:KIND[:DIRECTION[:TOLERANCE]]]" if guardrail else "NAME[:KIND[:DIRECTION]]"
        raise _usage(f"{spec!r} must look like {shape}", "guardrail" if guardrail else "metric")
    out: dict[str, Any] = dict(zip(keys, parts, strict=False))
    if "tolerance" in out:
        try:
            out["tolerance"] = float(out["tolerance"])
        except ValueError:
            raise _usage(f"{spec!r}: tolerance is not a number", "guardrail") from None
    return out


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _summary_rows(experiments: list[Any]) -> list[list[str]]:
    rows = []
    for e in experiments:
        split = " / ".join(f"{v.name}=v{v.version}:{v.weight:g}" for v in e.variants)
        rows.append(
            [e.name, f"{e.prompt}@{e.label}", e.status, split, e.primary_metric.name,
             output.format_time(e.started_at)]
        )  # fmt: skip
    return rows


def _print_experiment(exp: Any) -> None:
    output.table(
        ["experiment", "prompt", "status", "variants", "metric", "started"], _summary_rows([exp])
    )
    if exp.decision:
        output.out(f"decision: {exp.decision}")


@experiment_app.command("create")
def create(  # noqa: PLR0917 - Typer passes every option positionally
    name: Annotated[str, typer.Argument(help="Experiment name: a-z 0-9 _ . -")],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="The prompt to split.")],
    variant: Annotated[
        list[str],
        typer.Option("--variant", "-v", help="NAME=VERSION[:WEIGHT], control first; repeat."),
    ],
    metric: Annotated[
        str,
        typer.Option(
            "--metric", "-m", help="Primary metric NAME[:binary|continuous[:higher|lower]]."
        ),
    ],
    guardrail: Annotated[
        list[str] | None,
        typer.Option("--guardrail", "-g", help="NAME[:KIND[:DIRECTION[:TOLERANCE]]]; repeat."),
    ] = None,
    extra: Annotated[
        list[str] | None, typer.Option("--also", help="Another metric to report; repeat.")
    ] = None,
    label: Annotated[str, typer.Option("--label", help="The label to split.")] = "production",
    coverage: Annotated[float, typer.Option("--coverage", help="Share of units in it.")] = 1.0,
    unit: Annotated[str, typer.Option("--unit", help="user | session | request")] = "user",
    seed: Annotated[str | None, typer.Option("--seed", help="Hash seed (default: name).")] = None,
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    start: Annotated[bool, typer.Option("--start", help="Start it right away.")] = False,
    bandit: Annotated[
        bool, typer.Option("--bandit", help="Adaptive allocation (Thompson sampling).")
    ] = False,
    floor: Annotated[float, typer.Option("--floor", help="A bandit's least share per arm.")] = 0.05,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an experiment (a draft unless --start).

    \b
    Example:
      promptvault experiment create support-tone -p customer_support \\
          -v control=1:90 -v friendly=2:10 -m resolved:binary \\
          -g escalated:binary:lower:0.02 --also rating:continuous --start
    """
    backend = ctx.backend()
    exp = backend.experiments.create(
        name,
        prompt=prompt,
        variants=[_variant(v) for v in variant],
        primary_metric=_metric(metric),
        guardrails=[_metric(g, guardrail=True) for g in guardrail or []],
        metrics=[_metric(m) for m in extra or []],
        label=label,
        coverage=coverage,
        unit_type=unit,
        seed=seed,
        description=description,
        actor=ctx.actor(),
        start=start,  # one transaction: a start that fails leaves no draft behind
        allocation="bandit" if bandit else "fixed",
        floor=floor,
    )
    if ctx.want_json(json_):
        output.print_json(_dump(exp))
        return
    _print_experiment(exp)


@experiment_app.command("list")
def list_(
    prompt: Annotated[str | None, typer.Option("--prompt", "-p", help="Only this prompt.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="draft | running | stopped | concluded")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Experiments, newest first."""
    found = ctx.backend().experiments.list(prompt=prompt, status=status)
    if ctx.want_json(json_):
        output.print_json([_dump(e) for e in found])
        return
    output.table(
        ["experiment", "prompt", "status", "variants", "metric", "started"],
        _summary_rows(found),
        empty="no experiments",
    )


@experiment_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One experiment's definition and state."""
    exp = ctx.backend().experiments.get(name)
    if ctx.want_json(json_):
        output.print_json(_dump(exp))
        return
    _print_experiment(exp)


def _lifecycle(verb: str, exp: Any) -> None:
    output.out(f"{exp.name}: {verb} ({exp.status})")


@experiment_app.command("start")
def start_(name: Annotated[str, typer.Argument(help="Experiment name.")]) -> None:
    """Start routing traffic through the experiment."""
    _lifecycle("started", ctx.backend().experiments.start(name, actor=ctx.actor()))


@experiment_app.command("stop")
def stop(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    reason: Annotated[str, typer.Option("--reason", help="Kept in the audit log.")] = "",
) -> None:
    """Stop routing: everyone gets the label's own version again."""
    _lifecycle("stopped", ctx.backend().experiments.stop(name, actor=ctx.actor(), reason=reason))


@experiment_app.command("ramp")
def ramp(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    weights: Annotated[list[str], typer.Argument(help="VARIANT=WEIGHT ...", metavar="V=W...")],
) -> None:
    """Change weights (e.g. control=50 friendly=50); as few units as possible move."""
    parsed: dict[str, float] = {}
    for spec in weights:
        key, sep, value = spec.partition("=")
        try:
            parsed[key] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key:
            raise _usage(f"{spec!r} must look like VARIANT=WEIGHT", "weights")
    exp = ctx.backend().experiments.ramp(name, parsed, actor=ctx.actor())
    split = ", ".join(f"{v.name}={v.weight:g}" for v in exp.variants)
    output.out(f"{exp.name}: weights now {split}")


@experiment_app.command("reallocate")
def reallocate(name: Annotated[str, typer.Argument(help="Experiment name.")]) -> None:
    """Recompute a running bandit's weights now (Thompson sampling, floor per arm)."""
    exp = ctx.backend().experiments.reallocate(name, actor=ctx.actor())
    split = ", ".join(f"{v.name}={v.weight:.4g}" for v in exp.variants)
    output.out(f"{exp.name}: weights now {split}")


@experiment_app.command("weights")
def weights_(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The weights over time (one row per phase) and, for a bandit, the regret saved."""
    backend = ctx.backend()
    phases = backend.experiments.phases(name)
    report = backend.experiments.report(name)
    allocation = report.analysis.get("allocation")
    if ctx.want_json(json_):
        output.print_json({"phases": _dump(phases), "regret": (allocation or {}).get("regret")})
        return
    names = [v.name for v in report.experiment.variants]
    rows = [
        [
            str(p["epoch"]),
            str(p["started_at"])[:19],
            p["reason"],
            *(f"{_share(p['weights'], n):.1%}" for n in names),
        ]
        for p in phases
    ]
    output.table(["phase", "from", "why", *names], rows)
    if allocation:
        r = allocation["regret"]
        output.out(
            f"regret (outcomes lost against always serving the best arm, observed means): "
            f"bandit {r['bandit']:.1f}, equal fixed split {r['fixed_split']:.1f}, "
            f"saved {r['saved']:.1f}"
        )


def _share(weights: dict[str, float], name: str) -> float:
    total = sum(weights.values()) or 1.0
    return weights[name] / total


@experiment_app.command("conclude")
def conclude(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    winner: Annotated[str, typer.Option("--winner", "-w", help="The winning variant.")],
) -> None:
    """Move the experiment's label to the winner's version and end the experiment."""
    exp = ctx.backend().experiments.conclude(name, winner, actor=ctx.actor())
    decision = exp.decision or {}
    output.out(
        f"{exp.name}: concluded, {exp.prompt}@{decision.get('label', exp.label)} now points "
        f"at v{decision.get('version')} ({winner})"
    )


@experiment_app.command("check")
def check(
    name: Annotated[str | None, typer.Argument(help="Experiment (default: all running).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run the guardrail and split checks; a failing one stops its experiment."""
    backend = ctx.backend()
    results = [backend.experiments.check(name)] if name else backend.experiments.check_all()
    if ctx.want_json(json_):
        output.print_json([_dump(r) for r in results])
        return
    rows = []
    for r in results:
        verdict = "STOPPED: " + "; ".join(r.reasons) if r.stopped else "ok"
        p = "" if r.srm_p_value is None else f"{r.srm_p_value:.3g}"
        rows.append([r.experiment, r.status, str(r.units), p, verdict])
    output.table(["experiment", "status", "units", "srm p", "result"], rows,
                 empty="no running experiments")  # fmt: skip


def _num(value: Any, spec: str = ".4g") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value * 100:+.1f}%"


def _print_report(report: Any) -> None:
    exp = report.experiment
    data = report.analysis
    output.out(
        f"{exp.name}: {exp.prompt}@{exp.label}, {exp.status}; "
        f"{data['mode']} analysis (alpha {data['alpha']:g})"
    )
    srm = data["srm"]
    shares = exp.assigner().shares
    split = " / ".join(f"{v} {n}" for v, n in zip(data["variants"], srm["observed"], strict=True))
    expected = " / ".join(f"{s:.0%}" for s in shares)
    state = "MISMATCH - the split is broken" if srm["mismatch"] else "ok"
    reason = f" ({srm['reason']})" if srm.get("reason") else ""
    output.out(
        f"sample ratio: {split} units against {expected}: "
        f"p = {_num(srm['p_value'], '.3g')} {state}{reason}"
    )
    for metric in data["metrics"]:
        output.out()
        output.out(f"{metric['name']} ({metric['kind']}, {metric['direction']} is better)")
        comparisons = {c["variant"]: c for c in metric["comparisons"]}
        rows = []
        for v in metric["variants"]:
            c = comparisons.get(v["variant"])
            if c is None:
                rows.append([v["variant"] + " (control)", str(v["n"]), _num(v["mean"]),
                             "", "", "", "", _num(v["chance_to_be_best"], ".1%")])  # fmt: skip
                continue
            ci = f"[{_num(c['ci_low'])}, {_num(c['ci_high'])}]" if c["ci_low"] is not None else ""
            p = _num(c["p_value_adjusted"], ".3g")
            verdict = "better" if c["better"] else "worse" if c["better"] is False else ""
            rows.append(
                [v["variant"], str(v["n"]), _num(v["mean"]), f"{_num(c['diff'], '+.4g')} {ci}",
                 _pct(c["relative_lift"]), f"{p} {verdict}".strip(),
                 _num(c["chance_to_beat"], ".1%"), _num(v["chance_to_be_best"], ".1%")]
            )  # fmt: skip
            if c.get("reason"):
                rows[-1][5] = f"- ({c['reason']})"
        output.table(
            ["variant", "n", "mean", "lift (CI)", "relative", "p", "beat control", "best"], rows
        )
    units = ", ".join(f"{k} {v}" for k, v in report.units.items())
    randoms = sum(report.random_exposures.values())
    output.out()
    output.out(f"units: {units}; exposures: {sum(report.exposures.values())}"
               + (f"; random (no unit id): {randoms}" if randoms else ""))  # fmt: skip
    if report.rejected:
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(report.rejected.items()))
        output.out(f"rejected events: {rejected}")
    for note in data.get("notes", []):
        output.warn(note)


def _plot(report: Any, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise _usage("--plot needs matplotlib: pip install 'promptvault[plot]'", "plot") from None
    from datetime import date

    metrics = list(report.timeline)
    fig, axes = plt.subplots(len(metrics), 1, figsize=(8, 3.2 * len(metrics)), squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        points = report.timeline[metric]
        for variant in [v.name for v in report.experiment.variants]:
            mine = [p for p in points if p["variant"] == variant]
            if not mine:
                continue
            days = [date.fromisoformat(p["day"]) for p in mine]
            means = [p["mean"] for p in mine]
            line = ax.plot(days, means, marker="o", label=f"{variant} (n={mine[-1]['n']})")[0]
            low = [p["ci_low"] if p["ci_low"] is not None else p["mean"] for p in mine]
            high = [p["ci_high"] if p["ci_high"] is not None else p["mean"] for p in mine]
            ax.fill_between(days, low, high, alpha=0.2, color=line.get_color())
        ax.set_title(f"{report.experiment.name}: {metric} (cumulative mean, 95% CI)")
        ax.legend(loc="best")
        ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@experiment_app.command("report")
def report_(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    mode: Annotated[
        str, typer.Option("--mode", help="sequential (always valid) | fixed (one look)")
    ] = "sequential",
    plot: Annotated[
        Path | None, typer.Option("--plot", metavar="PNG", help="Draw metrics over time.")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Split check first, then each metric: lift with CI, p-value, chance to beat control."""
    if mode not in ("sequential", "fixed"):
        raise _usage("--mode must be sequential or fixed", "mode")
    report = ctx.backend().experiments.report(name, mode=mode)
    if plot is not None:
        _plot(report, plot)
    if ctx.want_json(json_):
        output.print_json(_dump(report))
        return
    _print_report(report)
    if plot is not None:
        output.out(f"plot written to {plot}")
