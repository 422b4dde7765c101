"""Coverage-guided fuzzing (atheris / libFuzzer) of what reads untrusted text.

Targets:

- ``mustache``: parse, compile (every lane) and render a Mustache template with partials;
- ``jinja``: compile and render a template in the sandbox;
- ``loader``: parse a prompt file (YAML, JSON or ``.prompty``) and check its templates, as
  ``promptvault check`` does.

Each input may only end in a documented error (a ``PromptVaultError``: ``TemplateError``
subclasses, ``InvalidInputError``...); anything else is a crash that libFuzzer reports with
the input that caused it. Per-input time and memory are bounded by libFuzzer's ``-timeout``
and ``-rss_limit_mb``. ``tests/fuzz/test_fuzz.py`` runs each target for a few seconds in CI.

A longer run by hand (one target, 10 minutes, a corpus kept between runs; each target has a
dictionary of its syntax, ``tests/fuzz/<target>.dict``)::

    mkdir -p /tmp/corpus-mustache
    PYTHONPATH=src python tests/fuzz/harness.py mustache /tmp/corpus-mustache \\
        -dict=tests/fuzz/mustache.dict -max_total_time=600 -timeout=10 -rss_limit_mb=2048

A crash writes ``crash-<sha1>`` in the current directory; replay it with
``python tests/fuzz/harness.py mustache crash-<sha1>``.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["promptvault"]):
    from promptvault.cli import _fileshape  # noqa: F401 - instrumented for the loader
    from promptvault.cli._checks import check_templates
    from promptvault.cli.files import parse_text
    from promptvault.errors import PromptVaultError
    from promptvault.templating import Limits, compile_template
    from promptvault.templating import jinja as _jinja  # noqa: F401 - loaded lazily otherwise
    from promptvault.templating.mustache import MustacheTemplate

# Small limits: inputs explore the limits' edges instead of spending the time budget.
LIMITS = Limits(max_output_bytes=1 << 16, max_steps=5_000, max_depth=8, max_tags=2_000)
DATA: dict[str, Any] = {
    "a": [1, {"a": None, "b": "x"}],
    "b": "v",
    "c": {"d": [1, 2]},
    "x": "p",
    "items": ["{{a}}", "<b>"],
}
SUFFIXES = (".yaml", ".json", ".prompty")


def _text(fdp: Any) -> tuple[str, str]:
    source = fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes() * 2 // 3)
    partial = fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes())
    return source, partial


def mustache(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    lane = ("auto", "code", "interpret")[fdp.ConsumeIntInRange(0, 2)]
    escape = "html" if fdp.ConsumeBool() else "none"
    source, partial = _text(fdp)
    partials = {"p": partial, "x": "{{>p}}", "loop": "{{>loop}}"}
    try:
        template = MustacheTemplate(
            source, partials=partials, escape=escape, limits=LIMITS, lane=lane
        )
        for strict in (True, False):
            with contextlib.suppress(PromptVaultError):
                template.render(DATA, strict=strict)
        template.schema()
    except PromptVaultError:
        pass


def jinja(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    escape = "html" if fdp.ConsumeBool() else "none"
    source, partial = _text(fdp)
    try:
        template = compile_template(
            source, syntax="jinja", partials={"p": partial}, escape=escape, limits=LIMITS
        )
        for strict in (True, False):
            with contextlib.suppress(PromptVaultError):
                template.render(DATA, strict=strict)
        template.schema()
    except PromptVaultError:
        pass


def loader(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    suffix = SUFFIXES[fdp.ConsumeIntInRange(0, len(SUFFIXES) - 1)]
    text = fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes())
    try:
        parsed, _problems = parse_text(text, path=Path(f"prompts/fuzz{suffix}"))
        if parsed is not None:
            check_templates(parsed)
    except PromptVaultError:
        pass


TARGETS = {"mustache": mustache, "jinja": jinja, "loader": loader}


def main(argv: list[str]) -> None:
    target = TARGETS[argv[1]]
    atheris.Setup([argv[0], *argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
