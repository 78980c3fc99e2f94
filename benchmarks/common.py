"""What every benchmark module shares: the working tree's grid, the package (or its absence in
an old commit), the cached BenchCase of the current grid point, and the synchronised clock."""


import importlib.util
import sys
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



def _in_asv_forkserver():
    """Whether asv_runner's forkserver is importing the suite (it then forks every benchmark
    point from this process)."""
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "_run_server" and "asv_runner" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


if measure is not None and hasattr(measure, "warm_profiler") and _in_asv_forkserver():
    # The first torch.profiler of a process costs ~1 s; peak memory and op counts use one per
    # point. Paid once here, not once per forked child (a third of a quick run on 2 cores).
    measure.warm_profiler()

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


