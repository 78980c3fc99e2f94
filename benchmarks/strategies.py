"""asv benchmarks: time, memory and correctness of every last-state strategy, per regime.

Thin classes only: the regimes come from ``regimes.py`` (``BIRNN_BENCH_GRID=quick|full|smoke``),
every operation from ``birnn_bench.bench.BenchCase``. Points that make no sense here (no GPU, a
training step a quick CPU run does not afford, a CUDA out-of-memory) raise
``NotImplementedError`` in setup and show as n/a. Deterministic figures (peak bytes, errors) are
computed for all points in one process (``common.measure_all``); timings get a process each.
"""

from . import environment
from .common import Bulk, Timed, measure_all, pin


class Extract(Timed):
    """Only the state-taking step (index / gather / unpack / chunk), rnn outputs precomputed
    (BenchCase.extract runs prepare + run once, on first use, outside the timed calls)."""

    number = 50  # microsecond operations: 50 calls per sample, each timed apart from setup
    repeat = 3

    def setup(self, regime, strategy):
        super().setup(regime, strategy)
        self.case.extract()

    def time_extract(self, regime, strategy):
        self.case.extract()


class Forward(Timed):
    """End to end, inference (eval, no_grad): pack, rnn, unpack, index."""

    def time_forward(self, regime, strategy):
        self.case.forward()


class TrainStep(Timed):
    """Forward + backward of a scalar loss on (fwd, bwd)."""

    train = True

    def setup(self, regime, strategy):
        super().setup(regime, strategy)
        self.case.warm_train_step()

    def time_train_step(self, regime, strategy):
        self.case.train_step()


class PeakMemory(Bulk):
    """Peak bytes allocated by one forward call (CPU allocator events / CUDA allocator peak):
    exact, identical run to run and process to process."""

    unit = "bytes"

    def setup_cache(self):
        return measure_all("peak bytes", lambda case: case.peak_bytes())

    setup_cache.timeout = 3600

    def track_peak_bytes(self, cache, regime, strategy):
        return cache[(regime, strategy)]


def _error_and_ratio(case):
    from birnn_bench.oracle import tolerance

    error = case.max_abs_error()
    return error, error / tolerance(case.x.dtype)


class Error(Bulk):
    """Max abs error against the float64 oracle on this very configuration: every strategy is
    checked on the regimes it is timed on. ``track_error_over_tolerance`` is the same error over
    the dtype's tolerance (> 1: wrong), the readable view on a log axis. ``track_error_verdict``
    is what the dashboard judges (asv.conf.json): 1 wrong, 0 right; it changes only when a
    verdict does, where the error's last digits move with rounding from commit to commit. A
    lookup in the cache, one more short process per point (about 10 s on the quick CPU grid)."""

    unit = "abs error"

    def setup_cache(self):
        return measure_all("errors", _error_and_ratio)

    setup_cache.timeout = 3600

    def track_max_abs_error(self, cache, regime, strategy):
        return cache[(regime, strategy)][0]

    def track_error_over_tolerance(self, cache, regime, strategy):
        return cache[(regime, strategy)][1]

    track_error_over_tolerance.unit = "error / tolerance"

    def track_error_verdict(self, cache, regime, strategy):
        return int(cache[(regime, strategy)][1] > 1)

    track_error_verdict.unit = "wrong (1) or right (0)"


class Environment:
    """Records the pinned thread count; torch, CUDA, cuDNN, GPU and TF32 travel in the parameter
    values (``environment.py`` reads them without touching CUDA in asv's forkserver)."""

    params, param_names = environment.params()
    unit = "threads"

    def track_threads(self, *params):
        return pin()
