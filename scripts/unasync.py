"""Generate the sync SDK code from its async source, the way httpx and httpcore do.

``python scripts/unasync.py`` rewrites each target; ``--check`` writes nothing and exits 1
when a target is not what the source generates (CI runs this). Each rule is a whole-word
replacement, applied in order (a source's own ``SOURCE_RULES`` first); edit the async
source, never the generated file. The output must be what ``ruff format`` leaves as it is:
a signature that fits on one line only once ``async`` is gone keeps a trailing comma.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "src" / "promptvault" / "client"

# (async source, sync target)
FILES = [
    (CLIENT / "_calls_async.py", CLIENT / "_calls_sync.py"),
    (CLIENT / "_audit_async.py", CLIENT / "_audit_sync.py"),
    (CLIENT / "_changes_async.py", CLIENT / "_changes_sync.py"),
    (CLIENT / "_push_async.py", CLIENT / "_push_sync.py"),
    (CLIENT / "_evals_async.py", CLIENT / "_evals_sync.py"),
    (CLIENT / "_routing_async.py", CLIENT / "_routing_sync.py"),
    (CLIENT / "_client_async.py", CLIENT / "_client_sync.py"),
]

# Rules for one source only, applied before the common ones.
SOURCE_RULES = {
    "_client_async.py": [
        (r"\nimport asyncio\n", "\n"),
        (r"\basyncio\.sleep\b", "time.sleep"),
        (r"\.aclose\(\)", ".close()"),
    ],
}

RULES = [
    (r"await asyncio\.sleep\(seconds\)", "self.stop_event.wait(seconds)"),
    (r"\basync def\b", "def"),
    (r"\bawait ", ""),
    (r"\bAsyncStoreCalls\b", "StoreCalls"),
    (r"\bAsyncClientAudit\b", "ClientAudit"),
    (r"\bAsyncClientChanges\b", "ClientChanges"),
    (r"\bAsyncPushStream\b", "PushStream"),
    (r"\bAsyncClientEvals\b", "ClientEvals"),
    (r"\bAsyncExperimentRouting\b", "ExperimentRouting"),
    (r"\bAsyncEventQueue\b", "EventQueue"),
    (r"\bpromptvault\.client\.events_async\b", "promptvault.client.events"),
    (r"\bAsyncClientBase\b", "ClientBase"),
    (r"\bAsyncClientExperiments\b", "ClientExperiments"),
    (r"\bpromptvault\.client\.experiments_async\b", "promptvault.client.experiments"),
    (r"\b(promptvault\.client\._\w+)_async\b", r"\1_sync"),
    (r"\bhttpx\.AsyncBaseTransport\b", "httpx.BaseTransport"),
    (r"Callable\[\.\.\., Awaitable\[Any\]\]", "Callable[..., Any]"),
    (r"Callable\[\[float\], Awaitable\[None\]\]", "Callable[[float], None]"),
    (
        r"from collections\.abc import Awaitable, Callable, Mapping, Sequence",
        "from collections.abc import Callable, Mapping, Sequence",
    ),
    (r"\bhttpx\.AsyncClient\b", "httpx.Client"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\.aiter_lines\(", ".iter_lines("),
    (r"Callable\[\[CacheKey, int\], Awaitable\[None\]\]", "Callable[[CacheKey, int], None]"),
    (r"\basyncio\.Event\(\)", "threading.Event()"),
    (r"\nimport asyncio\n", "\nimport threading\n"),
    (r"Callable\[\[Call\[Any\]\], Awaitable\[Any\]\]", "Callable[[Call[Any]], Any]"),
    (r"from collections\.abc import Awaitable, Callable", "from collections.abc import Callable"),
    (r"\basync SDK client\b", "sync SDK client"),
    (r"\basync client\b", "sync client"),
]

HEADER = (
    "# Generated from {source} by scripts/unasync.py: do not edit, change the source and\n"
    "# run `python scripts/unasync.py`.\n"
)


def generate(source: Path) -> str:
    """The sync text for one async source."""
    text = source.read_text(encoding="utf-8")
    for pattern, replacement in [*SOURCE_RULES.get(source.name, []), *RULES]:
        text = re.sub(pattern, replacement, text)
    text = re.sub(
        r"This is the hand-written source; ``\w+\.py`` is generated from it by",
        f"Generated from ``{source.name}`` (the hand-written source) by",
        text,
    )
    return HEADER.format(source=source.name) + text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Fail if a target is stale.")
    args = parser.parse_args(argv)
    stale = []
    for source, target in FILES:
        wanted = generate(source)
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == wanted:
            continue
        if args.check:
            stale.append(target.relative_to(ROOT))
            continue
        tmp = target.with_suffix(".tmp")
        tmp.write_text(wanted, encoding="utf-8")
        tmp.replace(target)  # atomic: an interrupted run leaves the old file whole
        print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        names = ", ".join(str(p) for p in stale)
        print(f"stale: {names}: run `python scripts/unasync.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
