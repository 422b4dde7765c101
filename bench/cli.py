"""Whole-process timings of the ``promptvault`` command: each quick path next to the full
command, and both next to bare Python.

Run: ``python bench/cli.py [--runs 9] [--files 200] [--quick]``

Each figure is a fresh process (what a user or CI job waits for), with compiled ``.pyc``
files as an installed package has them: ``PYTHONDONTWRITEBYTECODE`` is removed from the
children's environment and a warm-up run writes them. Rounds interleave every command, so
background load hits them alike; each row gives the median and minimum wall time and the
median CPU time (user + system) of the child, and the header the machine's load before and
after. Rows:

- floors: ``python -c pass``, ``python -c "import promptvault"``, ``import typer``;
- ``promptvault --version``;
- ``render``, ``show``, ``get``, ``list`` on a warm SQLite home (demo data), ``check`` of
  ``examples/prompts`` and ``push`` of a folder of N unchanged prompt files: each by its
  quick path and by the full command (``--debug`` before the command selects it);
- ``push`` of the same N files all changed (the full command: it writes N versions).

Targets (medians, issue 15): render, show, get, list and check under 150 ms, --version
under 50 ms, the 200-file unchanged push under 0.5 s. ``--quick`` (1 round, 10 files, no
warm-up of the full commands) runs in seconds and checks only that everything runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PY = sys.executable
PV = str(Path(PY).parent / "promptvault")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "prompts"


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def once(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; a failing command stops the bench."""
    cpu, start = child_cpu(), time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{cmd} failed ({done.returncode}): {done.stderr.strip()}")
    return wall, child_cpu() - cpu


def write_files(folder: Path, count: int, generation: int) -> None:
    for i in range(count):
        path = folder / f"group{i % 10}" / f"prompt_{i:04d}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"description: Benchmark prompt {i}\n"
            "tags: [bench]\n"
            "config: {model: gpt-4o-mini, temperature: 0.2, max_tokens: 200}\n"
            "variables:\n  name: {type: string}\n  topic: {type: string}\n"
            "template: |\n"
            f"  Prompt {i}, generation {generation}: hello {{{{name}}}}.\n"
            "  {{#topic}}Talk about {{topic}}.{{/topic}}\n",
            encoding="utf-8",
        )


@dataclass
class Case:
    """One command to time; ``before`` runs ahead of each timed run (not timed)."""

    label: str
    cmd: list[str]
    before: Callable[[], None] | None = None
    cheap: bool = True  # warmed up in --quick mode too
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="rounds")
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--quick", "--smoke", action="store_true", help="1 round, 10 files")
    args = parser.parse_args()
    runs, files = (1, 10) if args.quick else (args.runs, args.files)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTVAULT_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # time what an installed package runs
        env |= {"PROMPTVAULT_HOME": str(root / "home"), "PROMPTVAULT_ACTOR": "bench"}
        once([PV, "demo"], env, root)
        folder = root / "prompts"
        write_files(folder, files, 0)
        once([PV, "push", str(folder)], env, root)
        generation = [0]

        def change_all() -> None:
            generation[0] += 1
            write_files(folder, files, generation[0])

        render = ["render", "customer_support", "--var", "company_name=Acme"]
        render += ["--var", "question=Where is my order?"]
        pairs = {
            "render": render,
            "show": ["show", "customer_support"],
            "get": ["get", "customer_support@staging"],
            "list": ["list"],
            "check": ["check", str(EXAMPLES)],
            f"push ({files} files, unchanged)": ["push", str(folder)],
        }
        floors = [
            Case("python -c pass", [PY, "-c", "pass"]),
            Case('python -c "import promptvault"', [PY, "-c", "import promptvault"]),
            Case('python -c "import typer"', [PY, "-c", "import typer"]),
        ]
        version = Case("--version", [PV, "--version"])
        quick = {name: Case(name, [PV, *cmd]) for name, cmd in pairs.items()}
        full = {
            name: Case(f"{name} (full)", [PV, "--debug", *cmd], cheap=False)
            for name, cmd in pairs.items()
        }
        changed = Case(
            f"push ({files} files, all changed)",
            [PV, "push", str(folder)],
            change_all,
            cheap=False,
        )
        cases = [*floors, version, *quick.values(), *full.values(), changed]
        for case in cases:  # warm: .pyc written, files in the OS cache
            if case.cheap or not args.quick:
                once(case.cmd, env, root)
        load = os.getloadavg()[0]
        for _ in range(runs):
            for case in cases:
                if case.before is not None:
                    case.before()
                wall, cpu = once(case.cmd, env, root)
                case.walls.append(wall)
                case.cpus.append(cpu)
        load_after = os.getloadavg()[0]

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms"

    print(
        f"promptvault CLI, whole processes with .pyc: medians of {runs} interleaved round(s); "
        f"load (1-min average) {load:.1f} -> {load_after:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"  {'floor':<40}{'median':>10}{'min':>10}{'CPU':>10}")
    for case in [*floors, version]:
        print(
            f"  {case.label:<40}{ms(case.median()):>10}{ms(min(case.walls)):>10}"
            f"{ms(statistics.median(case.cpus)):>10}"
        )
    print()
    print(f"  {'promptvault ...':<32}{'quick':>9}{'min':>9}{'CPU':>9}{'full':>10}{'ratio':>8}")
    for name, case in quick.items():
        slow = full[name].median()
        print(
            f"  {name:<32}{ms(case.median()):>9}{ms(min(case.walls)):>9}"
            f"{ms(statistics.median(case.cpus)):>9}{ms(slow):>10}{slow / case.median():>7.1f}x"
        )
    print(f"  {changed.label:<32}{'':>27}{ms(changed.median()):>10}")

    def verdict(seconds: float, limit: float) -> str:
        return f"{ms(seconds)} < {ms(limit)} {'ok' if seconds < limit else 'MISSED'}"

    floor = floors[0].median()
    print()
    print(f"targets (median wall time; python -c pass is {ms(floor)} here):")
    print(f"  --version {verdict(version.median(), 0.050)}")
    for name in ("render", "show", "get", "list", "check"):
        print(f"  {name} {verdict(quick[name].median(), 0.150)}")
    unchanged = quick[f"push ({files} files, unchanged)"].median()
    if files == 200:
        print(f"  200-file unchanged push {verdict(unchanged, 0.5)}")
    print(f"  all-changed push: {changed.median() / files * 1000:.1f} ms per file")


if __name__ == "__main__":
    main()
