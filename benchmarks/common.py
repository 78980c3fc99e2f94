"""What every benchmark module shares: the regimes, the package of the commit under test, the
cached case of the current point, thread pinning and the synchronised clock.

asv measures every commit with the working tree's suite (numpy's rule). The one place that
handles a commit lacking a piece of the package is here: ``case_for`` raises
``NotImplementedError``, so such points show as n/a, never as failures.
"""

import sys

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

def _warm_profiler():
    """The first torch.profiler of a process costs about 1 s, and peak memory and op counts use
    one per point: paid once here, in the process asv's forkserver forks every point from, not
    once per child. Not on CUDA builds (the profiler may initialise CUDA, see environment.py)."""
    if torch.version.cuda is not None:
        return
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True):
        torch.ones(1).add_(1)


_warm_profiler()
REGIMES = regimes.by_id()
PARAM_NAMES = ["regime", "strategy"]
PARAMS = [list(REGIMES), list(STRATEGIES)]


def timer():
    """asv's clock: waits for queued CUDA work before reading perf_counter."""
    return measure.synchronized_timer() if measure is not None else 0.0


def pin():
    """Threads ($BIRNN_BENCH_THREADS, default 1) and precision: each asv process is the
    suite's own, so it sets them for its whole life."""
    if measure is None:
        raise NotImplementedError("this commit predates birnn_bench.measure")
    measure.set_precision_flags()
    return measure.pin_threads()


def regime_for(regime_id, train=False):
    regime = REGIMES[regime_id]
    if train and not regime.train:
        raise NotImplementedError(f"{regime_id}: the training step is not measured in this "
                                  "regime on this grid")
    if regime.device == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("no CUDA device")
    return regime


_CACHE = {}


def case_for(regime_id, strategy, train=False):
    """The BenchCase of one point, built once per process: asv_runner re-runs setup() between
    the timed calls of a sample when number > 1."""
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
    """Absolute times, for history across commits. Decisions between strategies come from the
    paired ratios (``ratios.py``); so these take few samples: 2 processes, 3 to 5 samples of
    at most about half a second in all per process."""

    rounds = 2
    repeat = (3, 5, 0.5)
    warmup_time = 0.05
    timer = staticmethod(timer)
