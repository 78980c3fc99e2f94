"""Instructions per call under valgrind's callgrind: a figure that does not follow load (wall time
moves 1.5-3.8x between processes on a shared machine, instruction counts ~0.05%). ``count`` runs
ONE valgrind process (its start-up costs minutes) for all points: the worker warms each step, then
counts ``calls`` calls, garbage collector off, one dump per point and step. Its start is made
deterministic, as its memory layout moves the count (Python hashes objects by address): bytecode
compiled first (a worker compiling itself counted 1.1% fewer extract instructions), plan on stdin,
cwd ``/``, fixed environment, PYTHONHASHSEED=0. Under valgrind oneDNN takes its AVX2 path: counts
compare commits on one machine and install location; they are not times."""

from __future__ import annotations

import compileall
import gc
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

#: What is counted per call: the whole inference forward, or only the state-taking step.
STEPS = ("forward", "extract")
CALLS = 3


@dataclass(frozen=True)
class Point:
    """One workload (``WorkloadSpec`` fields) and strategy: each of ``STEPS`` is counted."""

    spec: dict
    strategy: str


def unavailable() -> str | None:
    """Why instructions cannot be counted here, or None when they can."""
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (Debian: apt-get install valgrind)"
    import torch

    if not torch._C._valgrind_supported_platform():
        return "this torch build has no valgrind support"
    return None


def _instructions(dump: Path) -> int:
    """Ir of one callgrind dump (its ``totals:`` line, else ``summary:``)."""
    text = dump.read_text(encoding="utf-8", errors="replace")
    for key in ("totals", "summary"):
        found = re.search(rf"^{key}:\s*(\d+)", text, re.MULTILINE)
        if found:
            return int(found.group(1))
    raise RuntimeError(f"{dump}: no totals in this callgrind output")


def count(points: Sequence[Point], *, calls: int = CALLS, threads: int = 1,
          progress: Callable[[str], None] | None = None,
          timeout: float = 3600.0) -> list[dict[str, float]]:
    """Instructions per call of each point's ``STEPS`` ({step: count}), in order, from ONE
    valgrind process; RuntimeError naming the reason if valgrind is missing or the worker fails."""
    if calls < 1:
        raise ValueError(f"calls: expected an integer >= 1, got {calls!r}")
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    from birnn_bench.strategies import STRATEGIES
    from birnn_bench.workload import WorkloadSpec
    for point in points:  # bad input fails here, before minutes of valgrind start-up
        WorkloadSpec(**point.spec)
        if point.strategy not in STRATEGIES:
            raise ValueError(f"strategy: expected one of {sorted(STRATEGIES)}, "
                             f"got {point.strategy!r}")
    package = Path(__file__).resolve().parent
    # Bytecode present for every run, whoever ran first (a read-only tree: every run compiles).
    compileall.compile_dir(package, quiet=2,
                           invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    plan = json.dumps({"calls": calls, "threads": threads, "points": [asdict(p) for p in points]})
    with tempfile.TemporaryDirectory(prefix="birnn-callgrind-") as tmp:
        work = Path(tmp)
        command = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
                   f"--callgrind-out-file={work / 'cg.out'}", "--quiet",
                   sys.executable, "-m", "birnn_bench.instructions"]
        # The same environment, cwd and argv whoever calls; OpenMP waits passively (spinning
        # made concurrent counts differ).
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0",
               "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(package.parent)}
        started = time.perf_counter()
        # stderr to a file: a full stderr pipe would block the worker while this reads stdout.
        with (work / "stderr.txt").open("w+") as errors, \
                subprocess.Popen(command, env=env, cwd="/", stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=errors, text=True) as worker:
            expired = threading.Event()
            watchdog = threading.Timer(timeout, lambda: (expired.set(), worker.kill()))
            watchdog.start()
            try:
                assert worker.stdin is not None and worker.stdout is not None
                worker.stdin.write(plan)
                worker.stdin.close()
                for line in worker.stdout:
                    if progress is not None:
                        progress(f"{line.rstrip()} ({time.perf_counter() - started:.0f} s)")
                worker.wait()
            finally:
                watchdog.cancel()
            if expired.is_set():
                raise RuntimeError(f"callgrind worker: over {timeout:.0f} s")
            if worker.returncode != 0:
                errors.seek(0)
                raise RuntimeError(f"callgrind worker exited with {worker.returncode}: "
                                   f"{errors.read().strip()[-2000:]}")
        dumps = sorted(work.glob("cg.out.*"), key=lambda p: int(p.suffix[1:]))
        if len(dumps) != len(points) * len(STEPS):
            raise RuntimeError(f"callgrind: expected {len(points) * len(STEPS)} dumps, found "
                               f"{len(dumps)}")
        per_call = [_instructions(dump) / calls for dump in dumps]
        return [dict(zip(STEPS, per_call[i:i + len(STEPS)], strict=True))
                for i in range(0, len(per_call), len(STEPS))]


def _count_calls(step: Callable[[], object], calls: int) -> None:
    """``calls`` calls of ``step``, counted in one dump, after a warm call outside the count."""
    import torch

    step()
    gc.collect()
    gc.disable()
    try:
        torch._C._valgrind_toggle()
        for _ in range(calls):
            step()
        torch._C._valgrind_toggle_and_dump_stats()
    finally:
        gc.enable()


def _work(plan_text: str) -> None:
    """The worker, under valgrind: one dump per point and step, in the plan's order."""
    from birnn_bench import measure
    from birnn_bench.bench import BenchCase
    from birnn_bench.workload import WorkloadSpec

    plan = json.loads(plan_text)
    calls = plan["calls"]
    with measure.pinned(plan["threads"]):
        for index, raw in enumerate(plan["points"], start=1):
            point = Point(**raw)
            case = BenchCase(WorkloadSpec(**point.spec), point.strategy)  # runs one forward
            _count_calls(case.forward, calls)
            case.prepare_extract()
            _count_calls(case.extract, calls)
            print(f"[instructions {index}/{len(plan['points'])}] {point.strategy}", flush=True)


if __name__ == "__main__":
    _work(sys.stdin.read())
