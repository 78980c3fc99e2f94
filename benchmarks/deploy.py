"""asv benchmarks: torch.compile against eager, on a small sub-grid.

The sub-grid (``birnn_bench.deploy.COMPILE_GRIDS``, chosen by ``BIRNN_BENCH_GRID`` like the tree
grid) uses the suite's parameter names plus ``compile`` in {eager, compile}. ``birnn_bench/
deploy.py`` is loaded from the working tree, like ``grid.py`` in ``common.py``: every commit is
measured on the same points with the same wrapper, and the commit's own strategies. Points that
cannot run (no GPU, a compile that fails) raise ``NotImplementedError`` in setup and show as n/a.
"""

import importlib.util
import sys
from pathlib import Path

from .common import _timer, grid


def _load_tree_deploy():
    path = Path(__file__).resolve().parents[1] / "birnn_bench" / "deploy.py"
    name = "_birnn_bench_tree_deploy"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
    try:
        spec.loader.exec_module(module)
    except ImportError:  # a commit whose package lacks what the wrapper imports
        del sys.modules[name]
        return None
    return module


deploy = _load_tree_deploy()
if deploy is not None:
    PARAM_NAMES = list(deploy.COMPILE_PARAM_NAMES)
    PARAMS = [list(deploy.compile_grid(grid.grid_name())[name]) for name in PARAM_NAMES]
else:
    PARAM_NAMES, PARAMS = ["compile"], [["unavailable"]]

_CACHE = {}


def _case_for(params):
    # asv_runner re-runs setup() between the timed calls of a sample when number > 1: keep the
    # built (and compiled) case, one grid point per process at a time.
    if params not in _CACHE:
        _CACHE.clear()
        _CACHE[params] = deploy.CompiledCase(*params)
    return _CACHE[params]


class Compiled:
    """End to end inference (eval, no_grad) of the rnn + strategy module, eager or
    ``torch.compile``d (default settings: the rnn itself graph-breaks and runs eagerly)."""

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 600
    # Two rounds, not TIMING_ROUNDS: every process compiles anew (seconds per point). The
    # analysis splits each process's samples in SAMPLES_PER_ROUND chunks: only stricter.
    rounds = 2
    repeat = 2 * grid.SAMPLES_PER_ROUND
    warmup_time = 0.05
    timer = staticmethod(_timer)

    def setup(self, *params):
        if deploy is None:
            raise NotImplementedError("birnn_bench/deploy.py cannot be loaded for this commit")
        self.case = _case_for(params)

    def time_forward_compiled(self, *params):
        self.case.forward()

    def track_compile_seconds(self, *params):
        """Wall time of the first call: the compile (inductor caches off) or eager's first call."""
        return self.case.first_call_seconds

    track_compile_seconds.unit = "seconds"

    def track_compiled_error(self, *params):
        """Max abs error of this point's output against the float64 oracle: timed and checked
        on the same configuration."""
        return self.case.max_abs_error()

    track_compiled_error.unit = "abs error"
