"""Whole-process timings of the ``promptvault`` command, next to bare Python and Typer.

Run: ``.venv/bin/python bench/cli.py [--runs 7] [--files 200] [--smoke]``

Each figure is a fresh process (what a user or CI job waits for), min and median of several
runs, in one run of this script so that the peers share the machine's current load:

- ``python -c pass`` and ``python -c "import typer"``: the floor;
- ``promptvault --version`` and ``--help``;
- ``promptvault render customer_support ...`` on a warm SQLite database (demo data loaded);
- ``promptvault push`` of a folder of N prompt files, unchanged and all changed.

Targets: --version < 150 ms and < 2x (pass + import typer); render < 400 ms; the 200-file
unchanged push < 1.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
PV = str(Path(PY).parent / "promptvault")


def timed(cmd: list[str], env: dict[str, str], runs: int, before: object = None) -> list[float]:
    out = []
    for _ in range(runs):
        if callable(before):
            before()
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        out.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{cmd} failed ({done.returncode}): {done.stderr.strip()}")
    return out


def row(label: str, times: list[float]) -> tuple[float, float]:
    best, median = min(times), statistics.median(times)
    print(f"  {label:<48} min {best * 1000:7.0f} ms   median {median * 1000:7.0f} ms")
    return best, median


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
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="2 runs, 20 files (CI smoke)")
    parser.add_argument("--quick", action="store_true", help="the same as --smoke")
    args = parser.parse_args()
    runs, files = (2, 20) if args.smoke or args.quick else (args.runs, args.files)
    push_runs = max(2, min(runs, 5))

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTVAULT_")}
        env |= {"PROMPTVAULT_HOME": str(root / "home"), "PROMPTVAULT_ACTOR": "bench"}
        print(f"promptvault CLI, whole processes ({runs} runs; load {os.getloadavg()[0]:.1f})")
        base, _ = row("python -c pass", timed([PY, "-c", "pass"], env, runs))
        typer_t, _ = row('python -c "import typer"', timed([PY, "-c", "import typer"], env, runs))
        version, _ = row("promptvault --version", timed([PV, "--version"], env, runs))
        row("promptvault --help", timed([PV, "--help"], env, runs))

        timed([PV, "demo"], env, 1)
        render_cmd = [
            PV,
            "render",
            "customer_support",
            "--var",
            "company_name=Acme",
            "--var",
            "question=Where is my order?",
        ]
        timed(render_cmd, env, 1)  # warm: migrations checked, files cached by the OS
        render, render_med = row(
            "promptvault render customer_support (warm SQLite)", timed(render_cmd, env, runs)
        )

        folder = root / "prompts"
        write_files(folder, files, 0)
        timed([PV, "push", str(folder)], env, 1)
        unchanged, unchanged_med = row(
            f"promptvault push ({files} files, unchanged)",
            timed([PV, "push", str(folder)], env, push_runs),
        )
        generation = [0]

        def change_all() -> None:
            generation[0] += 1
            write_files(folder, files, generation[0])

        changed, _ = row(
            f"promptvault push ({files} files, all changed)",
            timed([PV, "push", str(folder)], env, push_runs, before=change_all),
        )

    floor = base + typer_t
    print()
    print("targets (min):")
    print(
        f"  --version {version * 1000:.0f} ms: < 150 ms "
        f"{'ok' if version < 0.150 else 'MISSED'}; < 2x (pass + import typer) = "
        f"{2 * floor * 1000:.0f} ms {'ok' if version < 2 * floor else 'MISSED'}"
    )
    print(
        f"  render {render * 1000:.0f} ms (median {render_med * 1000:.0f}): < 400 ms "
        f"{'ok' if render < 0.400 else 'MISSED'}"
    )
    if files == 200:
        print(
            f"  200-file unchanged push {unchanged:.2f} s (median {unchanged_med:.2f}): < 1.5 s "
            f"{'ok' if unchanged < 1.5 else 'MISSED'}"
        )
    print(f"  all-changed push: {changed / files * 1000:.1f} ms per file")


if __name__ == "__main__":
    main()
