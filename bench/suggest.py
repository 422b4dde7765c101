"""What an unknown prompt name costs: the "did you mean" lookup on a large registry.

Fills a SQLite file with N prompt rows (default 12,491, the size the issue was found at),
then times ``vault.get(<typo>)`` misses. ``full scan`` is the previous way (read every name,
then difflib over all of them); ``indexed`` is the current one (index range scans around the
name, then difflib over that bounded set).

    python bench/suggest.py            # 12,491 prompts, 200 misses
    python bench/suggest.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from promptvault import Vault
from promptvault.config import Settings
from promptvault.errors import PromptNotFound, suggest
from promptvault.storage import repositories as repo
from promptvault.storage.tables import PromptRow

WORDS = ("support", "billing", "summary", "translate", "classify", "extract", "reply")


def fill(vault: Vault, n: int) -> list[str]:
    now = datetime.now(UTC)
    names = [f"team{i % 37}/{WORDS[i % len(WORDS)]}_{i:05d}" for i in range(n)]
    rows = [
        {
            "name": name,
            "description": "",
            "type": "text",
            "archived": False,
            "latest_version": 0,
            "created_at": now,
            "created_by": "bench",
            "updated_at": now,
            "updated_by": "bench",
        }
        for name in names
    ]
    with vault.db.engine.begin() as conn:
        conn.execute(insert(PromptRow), rows)
    return names


def typo(name: str) -> str:
    return name[:-3] + name[-2:]  # one character dropped near the end


def timed(fn: object, misses: list[str]) -> list[float]:
    out = []
    for name in misses:
        start = time.perf_counter()
        fn(name)  # type: ignore[operator]
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=12_491)
    parser.add_argument("--misses", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.misses = 2_000, 20
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        with Vault(Settings(database_url=url)) as vault:
            names = fill(vault, args.prompts)
            misses = [typo(names[i * 7919 % len(names)]) for i in range(args.misses)]

            def full_scan(name: str) -> list[str]:
                with vault.db.read() as s:
                    return suggest(name, repo.all_prompt_names(s))

            def indexed(name: str) -> list[str]:
                try:
                    vault.get(name)
                except PromptNotFound as err:
                    return list(err.details["suggestions"])
                raise AssertionError(name)

            hits = sum(bool(indexed(m)) for m in misses)
            for label, fn in (("full scan", full_scan), ("indexed", indexed)):
                ms = timed(fn, misses)
                print(
                    f"{label:>9}: {args.prompts} prompts, {len(ms)} misses: "
                    f"median {statistics.median(ms):.2f} ms, max {max(ms):.2f} ms"
                )
            print(f"indexed suggestions found for {hits}/{len(misses)} misses")


if __name__ == "__main__":
    main()
