"""asv benchmarks: time, memory and correctness of every last-state strategy.

Thin classes only: the grid comes from ``birnn_bench/grid.py`` (``BIRNN_BENCH_GRID=quick|full|
smoke``),
every operation from ``birnn_bench.bench.BenchCase``. Points that make no sense here (no GPU,
a dtype measured on CUDA only, a CUDA out-of-memory) raise ``NotImplementedError`` in setup and
show as n/a. The suite still imports against commits that predate pieces of the package.
"""

from .common import _Case, _timer, grid, measure


class Extract(_Case):
    """Only the state-taking step (index / gather / unpack / chunk), rnn outputs precomputed
    (BenchCase.extract runs prepare + run once, on first use, outside the timed calls)."""

    number = 50  # microsecond operations: 50 calls per sample, each timed apart from setup
    rounds = grid.TIMING_ROUNDS
    repeat = grid.SAMPLES_PER_ROUND
    warmup_time = 0.05
    timer = staticmethod(_timer)

    def setup(self, *params):
        super().setup(*params)
        self.case.extract()

    def time_extract(self, *params):
        self.case.extract()


class Forward(_Case):
    """End to end, inference (eval, no_grad): pack, rnn, unpack, index."""

    rounds = grid.TIMING_ROUNDS
    repeat = grid.SAMPLES_PER_ROUND
    warmup_time = 0.05
    timer = staticmethod(_timer)

    def time_forward(self, *params):
        self.case.forward()


class TrainStep(_Case):
    """Forward + backward of a scalar loss on (fwd, bwd)."""

    rounds = grid.TIMING_ROUNDS
    repeat = grid.SAMPLES_PER_ROUND
    warmup_time = 0.05
    timer = staticmethod(_timer)

    def setup(self, *params):
        super().setup(*params)
        self.case.warm_train_step()  # autograd's first call allocates: keep it out of samples

    def time_train_step(self, *params):
        self.case.train_step()


class PeakMemory(_Case):
    """Peak bytes allocated by one forward call (CPU allocator events / CUDA allocator peak)."""

    unit = "bytes"

    def track_peak_bytes(self, *params):
        return self.case.peak_bytes()


class Error(_Case):
    """Max abs error against the float64 oracle on this very configuration."""

    unit = "abs error"

    def track_max_abs_error(self, *params):
        return self.case.max_abs_error()


def _environment_params():
    if measure is None:
        return [["unknown"]], ["environment"]
    measure.set_precision_flags()
    threads = measure.pin_threads()
    if hasattr(measure, "environment_info_isolated"):
        # No CUDA in this process: asv's forkserver forks the benchmark children from it.
        info = measure.environment_info_isolated(threads)
    else:  # a commit that predates it
        info = measure.environment_info()
    names = ["torch", "threads", "cuda", "cudnn", "gpu", "cudnn_allow_tf32"]
    return [[str(info[name])] for name in names], names


class Environment:
    """Records torch / CUDA / cuDNN versions, GPU and pinned thread count with the results
    (as parameter values, so they travel inside each results file)."""

    params, param_names = _environment_params()
    unit = "threads"

    def track_threads(self, *params):
        if measure is None:
            raise NotImplementedError("this commit predates birnn_bench.measure")
        return measure.pin_threads()
