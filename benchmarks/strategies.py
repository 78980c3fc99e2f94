"""asv benchmarks: time, memory and correctness of every last-state strategy, per regime: thin
classes over ``birnn_bench.bench.BenchCase``. Deterministic figures are computed for all points
in one process (``common.measure_all``); timings get a process each."""

from . import environment
from .common import STRATEGY_NAMES, STRATEGY_PARAMS, Bulk, Timed, measure_all, pin


class Extract(Timed):
    """Only the state-taking step (index / gather / unpack / chunk), rnn outputs precomputed."""

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
    """Peak bytes allocated by one forward call: exact, identical run to run."""

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
    """Max abs error against the float64 oracle on the regime itself; the same over the dtype's
    tolerance (> 1: wrong); and the verdict the dashboard judges (1 wrong, 0 right), which
    changes only when a verdict does, not with rounding in the error's last digits."""

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
    """The pinned thread count; torch, CUDA, cuDNN, GPU, TF32 and the allocator travel in the
    parameters."""

    params, param_names = environment.params()
    unit = "threads"

    def track_threads(self, *params):
        return pin()


def _matrix_failures():
    """strategy -> (conditions of the correctness matrix it fails, conditions checked), on
    ``birnn-bench check``'s default grid; None for a commit that predates the check."""
    try:
        from birnn_bench import check
    except ImportError:
        return None
    pin()
    rows = check.run_check(check.check_specs())
    return {name: (info["total"] - info["passed"], info["total"])
            for name, info in check.summarize(rows).items()}


class Correctness:
    """Conditions of the whole correctness matrix each strategy fails (0: safe, the only ones
    ever recommended), so that results carry what is safe: the report of any results tree
    recommends without a separate check file. Deterministic."""

    params = STRATEGY_PARAMS
    param_names = STRATEGY_NAMES
    unit = "conditions failed"
    timeout = 600

    def setup_cache(self):
        return _matrix_failures()

    setup_cache.timeout = 600

    def setup(self, cache, strategy):
        if cache is None:
            raise NotImplementedError("this commit predates birnn_bench.check")
        if strategy not in cache:
            raise NotImplementedError(f"this commit has no strategy {strategy!r}")

    def track_conditions_failed(self, cache, strategy):
        return cache[strategy][0]

    def track_conditions_checked(self, cache, strategy):
        return cache[strategy][1]
