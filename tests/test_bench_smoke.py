"""Every benchmark in bench/ runs in its --quick smoke mode and prints its figures.

A benchmark that no longer runs (an API it uses changed, an assertion on its outputs
fails) fails here instead of on the next person who wants a figure. Speed is not checked:
only that the run ends with exit 0 and printed measured figures.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
HELPERS = {"bare_app.py"}  # started by server.py, not a benchmark of its own
# A measured figure: a number with a unit of time, a rate or a ratio.
FIGURE = re.compile(r"\d[\d,.]*\s*(?:ns|µs|us|ms|s|x|MiB|MB|%|[A-Za-z ]*/s)(?![A-Za-z])")
# What each benchmark's figures are about, where a word says it.
MARKERS = {
    "approximate.py": "recall@5",
    "build.py": "median",
    "fewshot.py": "semantic top-5",
    "propagation.py": "push on",
    "sdk.py": "warm render",
}
BENCHES = sorted(p.name for p in BENCH.glob("*.py") if p.name not in HELPERS)


def test_every_benchmark_is_covered() -> None:
    assert len(BENCHES) >= 10, BENCHES


@pytest.mark.slow
@pytest.mark.parametrize("name", BENCHES)
def test_bench_quick_mode_runs_and_prints_figures(name: str, tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PROMPTVAULT_HOME"] = str(tmp_path / "home")
    src = str(BENCH.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run(
        [sys.executable, str(BENCH / name), "--quick"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{name} --quick exited {done.returncode}:\n{output[-3000:]}"
    assert FIGURE.search(done.stdout), f"{name} --quick printed no figures:\n{output[-3000:]}"
    marker = MARKERS.get(name)
    if marker is not None:
        assert marker in done.stdout, f"{name} --quick did not print {marker!r}"
