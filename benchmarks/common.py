"""What every benchmark module shares: regimes, the cached case, thread pinning, the clock.
asv measures every commit with the working tree's suite: a commit lacking a piece of the package
raises ``NotImplementedError`` in setup, so its points show as n/a, never as failures."""

import contextlib
import os
import sys
import time

import torch

from . import regimes

try:
    from birnn_bench import measure
    from birnn_bench.bench import BenchCase
    from birnn_bench.strategies import STRATEGIES
except ImportError:  # a commit that predates the benchmark support: its points are n/a
    measure = BenchCase = None
    STRATEGIES = {}

try:
    from birnn_bench.strategies import BASELINE
except ImportError:  # commits before the baseline was named in one place
    BASELINE = "hn_index"


# The first torch.profiler of a process costs about 1 s: paid once here, in the process asv's
# forkserver forks every point from. Not on CUDA builds (the profiler may initialise CUDA).
if torch.version.cuda is None:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True):
        torch.ones(1).add_(1)
REGIMES = regimes.by_id()
PARAM_NAMES = ["regime", "strategy"]
PARAMS = [list(REGIMES), list(STRATEGIES)]
#: For figures per regime only, or per strategy only.
REGIME_PARAMS, REGIME_NAMES = [PARAMS[0]], [PARAM_NAMES[0]]
STRATEGY_PARAMS, STRATEGY_NAMES = [PARAMS[1]], [PARAM_NAMES[1]]
#: A file to append progress lines to (asv shows a setup_cache's output only when it ends).
PROGRESS_ENV = "BIRNN_BENCH_PROGRESS"
_CACHE = {}


def timer():
    """asv's clock: waits for queued CUDA work before reading perf_counter."""
    return measure.synchronized_timer() if measure is not None else 0.0


def pin():
    """Threads ($BIRNN_BENCH_THREADS, default 1), precision and the allocator (where the commit
    has ``measure.pin_allocator``), for the asv process's life."""
    if measure is None:
        raise NotImplementedError("this commit predates birnn_bench.measure")
    measure.set_precision_flags()
    getattr(measure, "pin_allocator", str)()
    return measure.pin_threads()


def regime_for(regime_id, train=False):
    regime = REGIMES[regime_id]
    if train and not regime.train:
        raise NotImplementedError(f"{regime_id}: the training step is not measured in this "
                                  "regime on this grid")
    if regime.device == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("no CUDA device")
    return regime


def case_for(regime_id, strategy, train=False):
    """The BenchCase of one point, built once per process (asv re-runs setup() between the timed
    calls of a sample when number > 1)."""
    if BenchCase is None:
        raise NotImplementedError("this commit predates birnn_bench.bench")
    if strategy not in STRATEGIES:
        raise NotImplementedError(f"this commit has no strategy {strategy!r}")
    regime = regime_for(regime_id, train)
    key = (regime_id, strategy)
    if key not in _CACHE:
        _CACHE.clear()
        pin()
        try:
            _CACHE[key] = BenchCase(regime.spec(), strategy)
        except torch.cuda.OutOfMemoryError as err:
            message = f"CUDA out of memory for {regime_id} / {strategy}: {str(err).splitlines()[0]}"
            print(message, file=sys.stderr)
            raise NotImplementedError(message) from None
    return _CACHE[key]


class Case:
    """Base of the per-point benchmarks: parameters (regime, strategy), the case in setup."""

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 600
    train = False

    def setup(self, regime, strategy):
        self.case = case_for(regime, strategy, self.train)


class Timed(Case):
    """Absolute times, for history only (decisions come from ``ratios.py``): few samples."""

    rounds = 1
    repeat = (3, 5, 0.3)
    warmup_time = 0
    timer = staticmethod(timer)


def progress(line):
    print(line, file=sys.stderr, flush=True)
    path = os.environ.get(PROGRESS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def runnable_regimes(train=False):
    found = []
    for regime_id in REGIMES:
        with contextlib.suppress(NotImplementedError):
            found.append(regime_for(regime_id, train))
    return found


def measure_all(what, figure):
    """{(regime, strategy): figure(case)} for every point this machine runs, in ONE process (for
    deterministic figures: spares a fork and a case build per point). None for a commit that
    predates the benchmark support (its points are n/a)."""
    if BenchCase is None:
        return None
    pin()
    found = {}
    todo = runnable_regimes()
    started = time.perf_counter()
    for index, regime in enumerate(todo, start=1):
        for strategy in STRATEGIES:
            try:
                case = BenchCase(regime.spec(), strategy)
            except torch.cuda.OutOfMemoryError as err:
                progress(f"CUDA out of memory for {regime.id} / {strategy}: "
                         f"{str(err).splitlines()[0]}")
                continue
            found[(regime.id, strategy)] = figure(case)
            del case
        progress(f"[{what} {index}/{len(todo)}] {regime.id} "
                 f"({time.perf_counter() - started:.0f} s so far)")
    return found


class Bulk:
    """Base of the per-point figures a subclass computes for all points at once in its own
    ``setup_cache`` (``measure_all``); asv then records one value per point."""

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 3600

    def setup(self, cache, regime, strategy):
        if cache is None:
            raise NotImplementedError("this commit predates birnn_bench.bench")
        if (regime, strategy) not in cache:
            raise NotImplementedError(f"{regime} / {strategy}: not measured on this machine")
