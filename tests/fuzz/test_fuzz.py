"""Run each fuzz target of ``harness.py`` for a few seconds (CI), plus the inputs it found.

The budget is libFuzzer's own ``-max_total_time``; an input that raises anything but a
documented error, runs longer than ``-timeout`` or grows the process past ``-rss_limit_mb``
makes the run fail with the input in its output. See ``harness.py`` for longer runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from promptvault.cli.files import parse_text

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"
SECONDS = 4

SEEDS = {
    "mustache": [
        b"\x00\x00{{#a}}{{b}}{{/a}}{{^c}}{{>p}}{{/c}}",
        b"\x01\x01{{<p}}{{$a}}x{{/a}}{{/p}}\x00{{$a}}d{{/a}}",
        b"\x02\x00{{=<% %>=}}<%#items%><%.%><%/items%>",
    ],
    "jinja": [
        b"\x00{% for x in a %}{{ x|string }}{% endfor %}{% include 'p' %}",
        b"\x01{{ (b ~ b)|center(9) }}{% set y = [b, b] %}{{ y|join('-') }}",
    ],
    "loader": [
        b"\x00template: 'Hi {{name}}'\nvariables: {name: string}\n",
        b'\x01{"template": "{{a}}", "syntax": "jinja"}',
        b"\x02---\nname: p\ninputs:\n  a: {type: string}\n---\nuser:\n{{a}}\n",
    ],
}


@pytest.mark.parametrize("target", sorted(SEEDS))
def test_fuzz_target_finds_nothing(target: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for index, seed in enumerate(SEEDS[target]):
        (corpus / f"seed{index}").write_bytes(seed)
    run = subprocess.run(
        [
            sys.executable,
            str(HERE / "harness.py"),
            target,
            str(corpus),
            f"-dict={HERE / f'{target}.dict'}",
            f"-max_total_time={SECONDS}",
            "-timeout=10",
            "-rss_limit_mb=2048",
            f"-artifact_prefix={tmp_path}/",
        ],
        env={**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = run.stderr[-4000:]
    assert run.returncode == 0, report
    assert "DONE" in run.stderr, report
    assert not list(tmp_path.glob("crash-*")), report


@pytest.mark.parametrize(
    ("text", "suffix", "message"),
    [
        ("? {? [a]: 1}\n: 2\n", ".yaml", "unhashable"),  # the fuzzer's first find
        ("a: &x [1]\nb: *x\n", ".yaml", "aliases"),
        (
            "x: &a [1,1,1]\ny: &b [*a,*a,*a]\nz: &c [*b,*b,*b]\ntemplate: '{{t}}'\n",
            ".yaml",
            "aliases",
        ),
        ("[" * 5000 + "]" * 5000, ".json", ""),
        ("template: " + "[" * 5000, ".yaml", ""),
        ("---\n? {? [a]: 1}\n: 2\n---\nhi\n", ".prompty", "unhashable"),
    ],
)
def test_the_loader_reports_problems_and_never_raises(text: str, suffix: str, message: str) -> None:
    parsed, problems = parse_text(text, path=Path(f"prompts/p{suffix}"))
    assert parsed is None
    assert any(message in problem.message for problem in problems), problems
