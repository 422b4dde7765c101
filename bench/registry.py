"""Registry benchmark: push throughput, resolve+render latency and the multi-process race.

Compares, in one run, the Vault on SQLite and on PostgreSQL with the naive single-JSON-file
registry that rewrites the whole file on every save, at 100, 1,000 and 10,000 existing
versions; then runs 8 processes x 200 pushes to one prompt on each database and checks the
version numbers are 1..1600 with no gap or duplicate.

    .venv/bin/python bench/registry.py            # full run (a few minutes)
    .venv/bin/python bench/registry.py --quick    # smoke run
    PROMPTVAULT_BENCH_POSTGRES_URL=postgresql+psycopg://... to point at another server
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from promptvault import Vault
from promptvault.config import Settings
from promptvault.templating import compile_template

POSTGRES_URL = os.environ.get(
    "PROMPTVAULT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEMPLATE = (
    "You are a support agent for {{company_name}}. Greet {{customer_name}} warmly, answer "
    "their question about {{topic}} in at most {{max_sentences}} sentences, and sign as "
    "{{agent_name}}. Revision {{revision}}."
)
ROUNDS = 5  # timed windows are split in rounds; the median round is reported
VARS = {
    "company_name": "Acme",
    "customer_name": "Ada",
    "topic": "refunds",
    "max_sentences": 3,
    "agent_name": "Sam",
    "revision": "x",
}


class JsonFileRegistry:
    """The widely copied registry: one JSON file, loaded whole, rewritten on every save."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.prompts: dict[str, Any] = {}
        if path.exists():
            self.prompts = json.loads(path.read_text())

    def _save(self) -> None:
        self.path.write_text(json.dumps(self.prompts, indent=2))

    def push(self, name: str, template: str, *, save: bool = True) -> int:
        import hashlib

        entry = self.prompts.setdefault(
            name, {"name": name, "versions": [], "active_version": None, "tags": []}
        )
        version = len(entry["versions"]) + 1
        entry["versions"].append(
            {
                "version": version,
                "template": template,
                "variables": sorted(VARS),
                "model": "gpt-4o",
                "temperature": 0.7,
                "max_tokens": 500,
                "created_at": datetime.now(UTC).isoformat(),
                "created_by": "bench",
                "hash": hashlib.sha256(template.encode()).hexdigest()[:16],
            }
        )
        if entry["active_version"] is None:
            entry["active_version"] = version
        if save:
            self._save()
        return version

    def render(self, name: str, variables: dict[str, Any]) -> str:
        entry = self.prompts[name]
        version = entry["versions"][entry["active_version"] - 1]
        return str(version["template"].replace("{{", "{").replace("}}", "}").format(**variables))


# --- helpers -------------------------------------------------------------------------


def _admin_dsn() -> str:
    return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(_admin_dsn(), connect_timeout=3):
            return True
    except Exception:
        return False


@contextmanager
def fresh_database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        return
    import psycopg

    name = f"pv_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def per_call(fn: Callable[[], object], *, repeat: int, rounds: int = 5) -> float:
    """Median-of-rounds mean seconds per call (the fastest round would flatter)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        times.append((time.perf_counter() - start) / repeat)
    return statistics.median(times)


def interleaved(
    fns: dict[str, Callable[[], object]], *, repeat: int, rounds: int = 20
) -> dict[str, float]:
    """Median per-call time of each function, measured in alternating small batches.

    Alternating keeps the functions under the same background load, so their ratio holds
    on a busy machine even when the absolute figures move.
    """
    times: dict[str, list[float]] = {key: [] for key in fns}
    batch = max(repeat // rounds, 1)
    for _ in range(rounds):
        for key, fn in fns.items():
            start = time.perf_counter()
            for _ in range(batch):
                fn()
            times[key].append((time.perf_counter() - start) / batch)
    return {key: statistics.median(values) for key, values in times.items()}


def override_synchronous(vault: Vault, mode: str) -> None:
    """Run the vault's SQLite connections at ``PRAGMA synchronous=mode`` (after the product's
    own connect hook, which sets NORMAL)."""
    engine = vault.db.engine

    def pragma(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA synchronous={mode}")
        cursor.close()

    event.listen(engine, "connect", pragma)
    engine.dispose()  # pooled connections reconnect through the hook


def fmt_rate(per_second: float) -> str:
    return f"{per_second:>9,.0f}/s"


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:>9.1f} us"


# --- push throughput -----------------------------------------------------------------


def db_push_series(
    url: str, sizes: list[int], window: int, *, synchronous: str | None = None
) -> dict[int, float]:
    """Push until each size is reached, then time the next ``window`` pushes.

    ``synchronous`` overrides SQLite's ``PRAGMA synchronous`` (the product sets NORMAL).
    """
    rates: dict[int, float] = {}
    with Vault(Settings(database_url=url)) as vault:
        if synchronous is not None:
            override_synchronous(vault, synchronous)
        done = 0
        for _ in range(min(20, sizes[0])):  # warm up: pool, statement and compile caches
            vault.push("bench", template=f"{TEMPLATE} {done}", author="bench")
            done += 1
        for size in sizes:
            if done < size:
                bulk_fill(vault, "bench", done, size - done)
                done = size
            times = []
            for _ in range(ROUNDS):
                start = time.perf_counter()
                for _ in range(window // ROUNDS):
                    vault.push("bench", template=f"{TEMPLATE} {done}", author="bench")
                    done += 1
                times.append(time.perf_counter() - start)
            rates[size] = (window // ROUNDS) / statistics.median(times)
            progress(f"push at {size:,} versions: {rates[size]:,.0f}/s")
    return rates


def bulk_fill(vault: Vault, name: str, done: int, count: int, chunk: int = 1000) -> None:
    """Add ``count`` versions (with their audit entries) in big transactions, to grow fast.

    The rows are the same a push writes; only the per-push commit is saved, so the timed
    pushes that follow see a registry of the stated size.
    """
    from promptvault.registry.validation import content_hash
    from promptvault.storage import repositories as repo
    from promptvault.storage.audit import append
    from promptvault.storage.tables import utcnow

    def fill(session: Any, first: int, n: int) -> None:
        prompt = repo.get_prompt(session, name)
        assert prompt is not None and prompt.latest_version == first
        for number in range(first + 1, first + n + 1):
            template = f"{TEMPLATE} {number - 1}"
            digest = content_hash(
                template=template,
                syntax="mustache",
                type="text",
                config={},
                variables_schema=None,
            )
            now = utcnow()
            repo.insert_version(
                session,
                prompt.id,
                number,
                type="text",
                syntax="mustache",
                template=template,
                config={},
                variables_schema=None,
                message="",
                author="bench",
                created_at=now,
                hash=digest,
            )
            append(
                session,
                actor="bench",
                action="prompt.push",
                target=f"prompt:{name}",
                details={"version": number, "hash": digest, "message": ""},
                at=now,
            )
        repo.touch_prompt(session, prompt.id, at=utcnow(), actor="bench", latest_version=first + n)

    while count > 0:
        n = min(chunk, count)
        vault.db.write(lambda s, first=done, n=n: fill(s, first, n))
        done += n
        count -= n
    vault.registry.resolver.invalidate(name)


def progress(message: str) -> None:
    """A progress line on stderr, so long runs show they are alive."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


def json_push_series(path: Path, sizes: list[int], window: int) -> dict[int, float]:
    rates: dict[int, float] = {}
    registry = JsonFileRegistry(path)
    done = 0
    for size in sizes:
        while done < size:  # fill in memory: only the timed saves rewrite the file
            registry.push("bench", f"{TEMPLATE} {done}", save=False)
            done += 1
        registry._save()
        count = max(2, min(window, 200_000 // max(size, 1)) // ROUNDS)
        times = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            for _ in range(count):
                registry.push("bench", f"{TEMPLATE} {done}")
                done += 1
            times.append(time.perf_counter() - start)
        rates[size] = count / statistics.median(times)
        progress(f"json-file save at {size:,} versions: {rates[size]:,.0f}/s")
    return rates


# --- render latency ------------------------------------------------------------------


def render_latency(url: str, repeat: int) -> dict[str, float]:
    compiled = compile_template(TEMPLATE)
    # VARS has one int (max_sentences); the headline ratio uses the same data as strings,
    # the int case is shown beside it (non-string values are stringified on the way).
    strings = {k: str(v) for k, v in VARS.items()}
    mixed = VARS
    with Vault(Settings(database_url=url)) as vault:
        vault.push("render", template=TEMPLATE)
        vault.render("render", strings)
        assert vault.render("render", mixed) == compiled.render(mixed)
        assert vault.render("render", strings) == compiled.render(mixed)
        out = interleaved(
            {
                "compiled": lambda: compiled.render(strings),
                "warm": lambda: vault.render("render", strings),
                "compiled_int": lambda: compiled.render(mixed),
                "warm_int": lambda: vault.render("render", mixed),
                "warm_get": lambda: vault.get("render"),
            },
            repeat=repeat,
        )
    with Vault(Settings(database_url=url, label_ttl=0)) as uncached:
        uncached.render("render", VARS)
        out["label_lookup"] = per_call(
            lambda: uncached.render("render", VARS), repeat=max(repeat // 100, 50)
        )
    return out


# --- the race ------------------------------------------------------------------------


def _race_worker(url: str, worker: int, count: int, ready: Any, start: Any, errors: Any) -> None:
    vault = Vault(Settings(database_url=url))
    vault.get("seed")  # connected and warmed up before the clock starts
    ready.put(("ready", worker))
    start.wait()
    for i in range(count):
        try:
            vault.push("race", template=f"worker {worker} push {i}", author=f"w{worker}")
        except Exception as exc:  # counted and reported, never hidden
            with errors.get_lock():
                errors.value += 1
            print(f"  worker {worker}: {type(exc).__name__}: {exc}", file=sys.stderr)
    # CLOCK_MONOTONIC is system-wide: the parent compares it with its own start time.
    ready.put(("done", time.monotonic()))
    vault.close()


def race(url: str, procs: int, pushes: int) -> dict[str, Any]:
    with Vault(Settings(database_url=url)) as vault:
        vault.push("seed", template="migrate first")
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    ready = ctx.Queue()
    errors = ctx.Value("i", 0)
    workers = [
        ctx.Process(target=_race_worker, args=(url, w, pushes, ready, start, errors))
        for w in range(procs)
    ]
    for w in workers:
        w.start()
    for _ in workers:  # every process imported, opened its Vault and connected
        ready.get(timeout=300)
    began = time.monotonic()
    start.set()
    finished = [ready.get(timeout=3600)[1] for _ in workers]
    elapsed = max(finished) - began  # last push done; process exit is not counted
    for w in workers:
        w.join()
    with Vault(Settings(database_url=url)) as vault:
        numbers = sorted(v.version for v in vault.versions("race"))
        audit_ok = vault.audit.verify().ok
    expected = list(range(1, procs * pushes + 1))
    return {
        "versions": len(numbers),
        "contiguous": numbers == expected,
        "errors": errors.value,
        "exit_codes_ok": all(w.exitcode == 0 for w in workers),
        "seconds": elapsed,
        "audit_ok": audit_ok,
    }


# --- main ----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a short race")
    args = parser.parse_args()
    sizes = [100, 1000] if args.quick else [100, 1_000, 10_000]
    window = 50 if args.quick else 200
    procs, pushes = (4, 25) if args.quick else (8, 200)
    repeat = 2_000 if args.quick else 20_000

    kinds = ["sqlite"] + (["postgres"] if postgres_available() else [])
    if "postgres" not in kinds:
        print(f"PostgreSQL not reachable at {POSTGRES_URL}: SQLite and JSON file only")
    print(f"promptvault registry benchmark ({'quick' if args.quick else 'full'})\n")

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        push: dict[str, dict[int, float]] = {}
        latency: dict[str, dict[str, float]] = {}
        races: dict[str, dict[str, Any]] = {}
        for kind in kinds:
            progress(f"{kind}: growing the registry")
            with fresh_database(kind, tmp) as url:
                push[kind] = db_push_series(url, sizes, window)
            if kind == "sqlite":  # the product runs NORMAL (WAL); FULL syncs every commit
                with fresh_database(kind, tmp) as url:
                    push["sqlite FULL"] = db_push_series(url, sizes, window, synchronous="FULL")
            with fresh_database(kind, tmp) as url:
                latency[kind] = render_latency(url, repeat)
        push["json-file"] = json_push_series(tmp / "prompts.json", sizes, window)
        registry = JsonFileRegistry(tmp / "render.json")
        registry.push("render", TEMPLATE)
        json_render = per_call(lambda: registry.render("render", VARS), repeat=repeat)
        for kind in kinds:
            progress(f"{kind}: race of {procs} x {pushes}")
            with fresh_database(kind, tmp) as url:
                races[kind] = race(url, procs, pushes)

    print("Push throughput (versions/s) with N existing versions (median of 5 rounds)")
    print("  SQLite as the product runs it: WAL, synchronous=NORMAL; 'sqlite FULL' beside it")
    header = f"{'N':>8} " + "".join(f"{k:>13}" for k in push)
    print(header)
    for size in sizes:
        print(f"{size:>8,} " + "".join(f"{fmt_rate(push[k][size]):>13}" for k in push))
    last, first = sizes[-1], sizes[0]
    for kind in kinds:
        flat = push[kind][first] / push[kind][last]
        vs_json = push[kind][last] / push["json-file"][last]
        print(
            f"  {kind}: push at {last:,} takes {flat:.2f}x the time of push at {first:,} "
            f"(target <= 1.5x); {vs_json:.0f}x the JSON file at {last:,} (target >= 20x)"
        )

    print("\nResolve + render latency (median batch, alternating batches of each)")
    for kind in kinds:
        lat = latency[kind]
        ratio = lat["warm"] / lat["compiled"]
        print(f"  {kind}:")
        print(f"    compiled template .render()      {fmt_us(lat['compiled'])}")
        print(
            f"    vault.render('name', vars) warm  {fmt_us(lat['warm'])}  "
            f"({ratio:.2f}x compiled, target <= 1.5x)"
        )
        ratio_int = lat["warm_int"] / lat["compiled_int"]
        print(f"    compiled .render(), one int value {fmt_us(lat['compiled_int'])}")
        print(
            f"    vault.render, one int value      {fmt_us(lat['warm_int'])}  "
            f"({ratio_int:.2f}x compiled with the int)"
        )
        print(f"    vault.get('name') warm           {fmt_us(lat['warm_get'])}")
        print(
            f"    vault.render, label_ttl=0        {fmt_us(lat['label_lookup'])}  "
            "(one label query per call)"
        )
    print(f"  json-file registry get+format      {fmt_us(json_render)}")

    print(f"\nRace: {procs} processes x {pushes} pushes to one prompt")
    failed = False
    for kind, result in races.items():
        ok = result["contiguous"] and result["errors"] == 0 and result["exit_codes_ok"]
        failed |= not ok
        print(
            f"  {kind}: {result['versions']:,} versions, contiguous 1..{procs * pushes}: "
            f"{result['contiguous']}, errors: {result['errors']}, audit chain ok: "
            f"{result['audit_ok']}, {result['seconds']:.1f} s "
            f"({procs * pushes / result['seconds']:,.0f} pushes/s)"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
