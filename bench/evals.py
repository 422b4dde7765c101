"""Evaluation runs against a loopback model that answers in 50 ms.

Figures, each beside its peer (the raw ``openai`` client making the same calls with the
same concurrency) and its floor (the ideal: concurrency x 20 answers/s):

* cases/s at concurrency 1, 8 and 32 over a 1,000-case dataset (concurrency 1 over its
  first 200 cases: 1,000 would take 50 s alone). Target: >= 80% of the ideal.
* overhead per case over the raw client call: both sequential against a model that
  answers at once, so what is left is build, cache key, evaluators and result writes.
  Wall clock and CPU time (this process, all threads), each the median of 8 rounds'
  differences. Target: < 2 ms.
* a full re-run answered from the response cache. Target: < 5 s.

Beside each throughput line, the CPU time per case of promptvault's run, of the raw client
and of the model server: the ``openai`` client's own CPU per call (request transform,
httpx, response parsing) bounds what any caller of it reaches on one core, so on a small or
busy machine that bound, not the concurrency, is the ceiling.

The model server runs in a process of its own, so it does not share the interpreter lock
with the client under test. Rounds are interleaved, the order alternating (promptvault
then raw client, raw client then promptvault, ...), and medians reported; the machine's
load average is printed first and last.
``--quick`` runs a small smoke version.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the loopback model server the tests use

from promptvault import Vault  # noqa: E402
from promptvault.config import Settings  # noqa: E402

ANSWER_S = 0.05
_SERVE = """
import sys, time
sys.path.insert(0, sys.argv[1])
from evals.model_stub import ModelStub
with ModelStub(delay=float(sys.argv[2]), record=False) as stub:
    print(stub.port, flush=True)
    sys.stdin.read()
"""


class RemoteStub:
    """The loopback model in a child process; ``restart(delay)`` changes its answer time."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self, delay: float) -> None:
        self.stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVE, str(ROOT / "tests"), str(delay)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def stop(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
            self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def cpu_seconds(self) -> float:
        """CPU time the model process has used so far (user + system; Linux ``/proc``)."""
        assert self.proc is not None
        try:
            with open(f"/proc/{self.proc.pid}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def remote_stub(delay: float) -> Iterator[RemoteStub]:
    stub = RemoteStub()
    stub.start(delay)
    try:
        yield stub
    finally:
        stub.stop()


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def _vault(home: Path, stub: RemoteStub, cases: int) -> Vault:
    vault = Vault(Settings(database_url=f"sqlite:///{home / 'bench.db'}", home=home))
    vault.push(
        "bench",
        template=[
            {"role": "system", "content": "You answer support questions briefly."},
            {"role": "user", "content": "Question {{id}}: {{question}}"},
        ],
        config={"model": "gpt-4o-mini", "temperature": 0},
    )
    vault.evals.create_dataset(
        "bench",
        cases=[
            {
                "key": f"case-{i:05d}",
                "variables": {"id": str(i), "question": f"where is parcel {i}?"},
                "expected": f"Question {i}: where is parcel {i}?",
            }
            for i in range(cases)
        ],
        evaluators=[{"type": "exact"}, {"type": "contains", "value": "parcel"}],
    )
    vault.evals.set_provider("stub", kind="openai", base_url=stub.url)
    return vault


async def _raw(stub: RemoteStub, requests: list[dict[str, object]], concurrency: int) -> float:
    """Seconds the bare openai client takes for ``requests`` at ``concurrency``."""
    import openai

    client = openai.AsyncOpenAI(api_key="x", base_url=stub.url, max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(request: dict[str, object]) -> None:
        async with gate:
            await client.chat.completions.create(**request)  # type: ignore[call-overload]

    started = time.perf_counter()
    await asyncio.gather(*(one(r) for r in requests))
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


def _requests(vault: Vault, count: int) -> list[dict[str, object]]:
    cases = vault.evals.cases("bench")[:count]
    return [vault.build("bench@production", c.variables).to_openai() for c in cases]


def _ours(vault: Vault, dataset: str, concurrency: int) -> float:
    started = time.perf_counter()
    vault.evals.run(dataset, "bench@production", concurrency=concurrency, cache=False)
    return time.perf_counter() - started


def _subset(vault: Vault, name: str, count: int) -> str:
    """A dataset of the first ``count`` cases of ``bench``."""
    try:
        vault.evals.dataset(name)
    except Exception:
        vault.evals.create_dataset(
            name,
            cases=vault.evals.cases("bench")[:count],
            evaluators=vault.evals.dataset("bench").evaluators,
        )
    return name


def _overhead(
    vault: Vault, stub: RemoteStub, dataset: str, requests: list[dict[str, object]], rounds: int
) -> None:
    """Overhead per case over the raw client: both sequential against the same instant
    model, in alternating order (raw first, then promptvault first: drift in the machine's
    load falls on both sides), medians of the per-round differences. The wall-clock figure
    is what a caller sees; the CPU figure (this process, all threads) is what promptvault
    itself spends, and grows less than the wall clock on a busy machine."""
    count = len(requests)
    wall, cpu, raw_call = [], [], []
    for i in range(rounds):
        took: dict[str, tuple[float, float]] = {}
        for side in ("raw", "ours") if i % 2 == 0 else ("ours", "raw"):
            started, cpu_started = time.perf_counter(), time.process_time()
            if side == "raw":
                asyncio.run(_raw(stub, requests, 1))
            else:
                _ours(vault, dataset, 1)
            took[side] = (time.perf_counter() - started, time.process_time() - cpu_started)
        wall.append((took["ours"][0] - took["raw"][0]) / count * 1000)
        cpu.append((took["ours"][1] - took["raw"][1]) / count * 1000)
        raw_call.append(took["raw"][0] / count * 1000)
    print(
        f"overhead per case: {statistics.median(wall):.2f} ms wall "
        f"(rounds {' '.join(f'{w:.2f}' for w in wall)}), {statistics.median(cpu):.2f} ms CPU, "
        f"over the raw openai call of {statistics.median(raw_call):.2f} ms "
        f"(target < 2 ms; {count} cases, sequential, instant model, {rounds} rounds)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    cases = 40 if args.quick else 1000
    rounds = 1 if args.quick else 3
    seq_cases = 10 if args.quick else 200
    overhead_cases = 40 if args.quick else 500
    overhead_rounds = 2 if args.quick else 8
    print(_load())
    with tempfile.TemporaryDirectory() as tmp, remote_stub(ANSWER_S) as stub:
        vault = _vault(Path(tmp), stub, cases)
        sequential = _subset(vault, "bench-seq", seq_cases)
        fast = _subset(vault, "bench-overhead", overhead_cases)
        all_requests = _requests(vault, cases)
        # Warm up both sides (imports, connection pools) before anything is timed.
        _ours(vault, sequential, 8)
        asyncio.run(_raw(stub, all_requests[:seq_cases], 8))
        print(f"{cases} cases, model answers in {ANSWER_S * 1000:.0f} ms; {rounds} rounds, medians")

        for concurrency in (1, 8, 32):
            dataset, count = (sequential, seq_cases) if concurrency == 1 else ("bench", cases)
            ours, raw = [], []
            cpu = {"promptvault": 0.0, "raw": 0.0, "model": 0.0}
            for i in range(rounds):
                model_before = stub.cpu_seconds()
                for side in ("promptvault", "raw") if i % 2 == 0 else ("raw", "promptvault"):
                    before = time.process_time()
                    if side == "raw":
                        elapsed = asyncio.run(_raw(stub, all_requests[:count], concurrency))
                        raw.append(count / elapsed)
                    else:
                        ours.append(count / _ours(vault, dataset, concurrency))
                    cpu[side] += time.process_time() - before
                cpu["model"] += stub.cpu_seconds() - model_before
            ideal = concurrency / ANSWER_S
            mine = statistics.median(ours)
            print(
                f"concurrency {concurrency:>2}: promptvault {mine:7.1f} cases/s | "
                f"raw openai client {statistics.median(raw):7.1f} cases/s | "
                f"ideal {ideal:6.1f} cases/s | {mine / ideal:.0%} of ideal (target >= 80%)"
            )
            # Where the ceiling is: CPU per call of each side. A side needing C ms of CPU a
            # call cannot pass 1000 / C calls/s on one core, whatever the concurrency.
            per = {k: v / (count * rounds) * 1000 for k, v in cpu.items()}
            per["model"] /= 2  # the model answered both sides
            print(
                f"    CPU per case: promptvault {per['promptvault']:.2f} ms, raw openai client "
                f"{per['raw']:.2f} ms, model server {per['model']:.2f} ms -> one-core ceiling "
                f"of the raw client {1000 / max(per['raw'], 1e-9):.0f} calls/s"
            )

        stub.start(0.0)
        vault.evals.set_provider("stub", kind="openai", base_url=stub.url)
        _overhead(vault, stub, fast, all_requests[:overhead_cases], overhead_rounds)

        stub.start(ANSWER_S)
        vault.evals.set_provider("stub", kind="openai", base_url=stub.url)
        vault.evals.run("bench", "bench@production", concurrency=32)  # fills the cache
        stub.stop()  # a re-run that called the model would now fail every case
        started = time.perf_counter()
        rerun = vault.evals.run("bench", "bench@production", concurrency=32)
        elapsed = time.perf_counter() - started
        assert rerun.summary is not None
        assert (rerun.summary.cached, rerun.summary.errors) == (cases, 0)
        print(
            f"re-run of {cases} cases from the cache: {elapsed:.2f} s, 0 model calls "
            f"(first run at concurrency 32 would take >= {cases * ANSWER_S / 32:.2f} s; "
            "target < 5 s)"
        )
        vault.close()
    print(_load())


if __name__ == "__main__":
    main()
