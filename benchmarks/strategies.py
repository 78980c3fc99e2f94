"""asv benchmarks: time, memory and correctness of every last-state strategy.

Thin classes only: the grid comes from ``birnn_bench/grid.py`` (``BIRNN_BENCH_GRID=quick|full|
smoke``),
every operation from ``birnn_bench.bench.BenchCase``. Points that make no sense here (no GPU,
a dtype measured on CUDA only, a CUDA out-of-memory) raise ``NotImplementedError`` in setup and
show as n/a. The suite still imports against commits that predate pieces of the package.
"""

import importlib.util
from pathlib import Path


def _load_tree_grid():
    # The grid of the working tree, not of the commit being benchmarked: every commit is
    # measured on the same points, and commits that predate a piece of the package still import.
    path = Path(__file__).resolve().parents[1] / "birnn_bench" / "grid.py"
    spec = importlib.util.spec_from_file_location("_birnn_bench_tree_grid", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


grid = _load_tree_grid()
try:
    from birnn_bench import measure
    from birnn_bench.bench import BenchCase
    from birnn_bench.strategies import STRATEGIES
except ImportError:  # a commit that predates the benchmark support: its points are n/a
    measure = BenchCase = None
    STRATEGIES = {}

PARAM_NAMES = list(grid.BENCH_PARAM_NAMES)
PARAMS = [list(grid.bench_grid()[name]) for name in PARAM_NAMES]


def _timer():
    return measure.synchronized_timer() if measure is not None else 0.0


_CACHE = {}


def _case_for(params):
    # asv_runner re-runs setup() between the timed calls of a sample when number > 1: keep the
    # built case (one grid point per process at a time) so that re-running it costs a lookup.
    if params not in _CACHE:
        _CACHE.clear()
        _CACHE[params] = BenchCase.from_params(*params)
    return _CACHE[params]


class _Case:
    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 600

    def setup(self, *params):
        if BenchCase is None:
            raise NotImplementedError("this commit predates birnn_bench.bench")
        if params[-1] not in STRATEGIES:
            raise NotImplementedError(f"this commit has no strategy {params[-1]!r}")
        self.case = _case_for(params)


class Extract(_Case):
    """Only the state-taking step (index / gather / unpack / chunk), rnn outputs precomputed
    (BenchCase.extract runs prepare + run once, on first use, outside the timed calls)."""

    number = 50  # microsecond operations: 50 calls per sample, each timed apart from setup
    repeat = (3, 10, 2.0)
    warmup_time = 0.05
    timer = staticmethod(_timer)

    def setup(self, *params):
        super().setup(*params)
        self.case.extract()

    def time_extract(self, *params):
        self.case.extract()


class Forward(_Case):
    """End to end, inference (eval, no_grad): pack, rnn, unpack, index."""

    repeat = (3, 10, 2.0)
    warmup_time = 0.05
    timer = staticmethod(_timer)

    def time_forward(self, *params):
        self.case.forward()


class TrainStep(_Case):
    """Forward + backward of a scalar loss on (fwd, bwd)."""

    repeat = (3, 10, 2.0)
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
    measure.pin_threads()
    measure.set_precision_flags()
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
