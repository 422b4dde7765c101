"""Whole-process timings of the ``promptvault`` command, next to bare Python and its floors.

Run: ``python bench/cli.py [--runs 9] [--files 200] [--quick]``

Each figure is a fresh process (what a user or CI job waits for). Rounds interleave every
command, so background load hits them alike; each row gives the median and minimum wall
time and the median CPU time (user + system) of the child, with the machine's load:

- floors: ``python -c pass``, ``python -c "import promptvault"``, ``import typer``;
- ``promptvault --version``;
- ``promptvault render customer_support ...`` on a warm SQLite home (demo data), by the
  read path and by the full command (a global option before ``render`` selects it);
- ``promptvault push`` of a folder of N prompt files, unchanged and all changed.

Targets (medians, issue 15): render under 150 ms, --version under 50 ms, the 200-file
unchanged push under 0.5 s.
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
from pathlib import Path

PY = sys.executable
PV = str(Path(PY).parent / "promptvault")


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def once(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; a failing command stops the bench."""
    cpu, start = child_cpu(), time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
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
        env |= {"PROMPTVAULT_HOME": str(root / "home"), "PROMPTVAULT_ACTOR": "bench"}
        once([PV, "demo"], env)
        render = ["render", "customer_support", "--var", "company_name=Acme"]
        render += ["--var", "question=Where is my order?"]
        folder = root / "prompts"
        write_files(folder, files, 0)
        once([PV, "push", str(folder)], env)
        generation = [0]

        def change_all() -> None:
            generation[0] += 1
            write_files(folder, files, generation[0])

        cases: list[tuple[str, list[str], Callable[[], None] | None]] = [
            ("python -c pass", [PY, "-c", "pass"], None),
            ('python -c "import promptvault"', [PY, "-c", "import promptvault"], None),
            ('python -c "import typer"', [PY, "-c", "import typer"], None),
            ("promptvault --version", [PV, "--version"], None),
            ("promptvault render (read path)", [PV, *render], None),
            ("promptvault --debug render (full command)", [PV, "--debug", *render], None),
            ("promptvault show (read path)", [PV, "show", "customer_support"], None),
            (f"promptvault push ({files} files, unchanged)", [PV, "push", str(folder)], None),
            (
                f"promptvault push ({files} files, all changed)",
                [PV, "push", str(folder)],
                change_all,
            ),
        ]
        for _, cmd, _ in [] if args.quick else cases:  # warm: files in the OS cache
            once(cmd, env)
        walls: dict[str, list[float]] = {label: [] for label, _, _ in cases}
        cpus: dict[str, list[float]] = {label: [] for label, _, _ in cases}
        load = os.getloadavg()[0]
        for _ in range(runs):
            for label, cmd, before in cases:
                if before is not None:
                    before()
                wall, cpu = once(cmd, env)
                walls[label].append(wall)
                cpus[label].append(cpu)

    print(
        f"promptvault CLI, whole processes: {runs} interleaved rounds; "
        f"load {load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"  {'command':<46}{'median':>10}{'min':>10}{'CPU median':>13}")
    med: dict[str, float] = {}
    for label, _, _ in cases:
        med[label] = statistics.median(walls[label])
        print(
            f"  {label:<46}{med[label] * 1000:>7.0f} ms{min(walls[label]) * 1000:>7.0f} ms"
            f"{statistics.median(cpus[label]) * 1000:>10.0f} ms"
        )

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    version = med["promptvault --version"]
    fast = med["promptvault render (read path)"]
    full = med["promptvault --debug render (full command)"]
    unchanged = med[f"promptvault push ({files} files, unchanged)"]
    changed = med[f"promptvault push ({files} files, all changed)"]
    print()
    print("targets (medians of wall time):")
    print(f"  --version {version * 1000:.0f} ms: < 50 ms {verdict(version < 0.050)}")
    print(
        f"  render {fast * 1000:.0f} ms: < 150 ms {verdict(fast < 0.150)} "
        f"(full command {full * 1000:.0f} ms, {full / fast:.1f}x)"
    )
    if files == 200:
        print(f"  200-file unchanged push {unchanged:.2f} s: < 0.5 s {verdict(unchanged < 0.5)}")
    print(f"  all-changed push: {changed / files * 1000:.1f} ms per file")


if __name__ == "__main__":
    main()
