"""asv benchmarks: ``torch.compile`` against eager, end to end: the rnn and the commit's strategy
as ``deploy.StrategyModule``, eval mode, no autograd, eager or under plain ``torch.compile`` (the
rnn graph-breaks and runs eagerly). A commit, device or compile that cannot run a point makes it
n/a (``NotImplementedError``)."""

from __future__ import annotations

import contextlib
import itertools
import time
import warnings
from collections.abc import Callable
from typing import Any

from . import regimes
from .regimes import Regime

try:
    import torch

    from birnn_bench import deploy, measure
    from birnn_bench.oracle import error_against_oracle
    from birnn_bench.strategies import BASELINE, STRATEGIES
    from birnn_bench.workload import build
except ImportError as err:  # a commit that predates a piece of the package: its points are n/a
    MISSING = f"this commit lacks {err.name}"
    STRATEGIES = {}
    BASELINE = None
else:
    MISSING = None

COMPILE_MODES = ("eager", "compile")
PARAM_NAMES = ["regime", "strategy", "compile"]
BATCH, MAX_LEN = 64, 32
QUICK_CELLS = {("lstm", 1), ("gru", 2)}


def compile_regimes(grid_name: str | None = None) -> list[Regime]:
    """The regimes for grid ``grid_name`` (default: ``BIRNN_BENCH_GRID``): the quick grid's
    batch-64, max_len-32 ones of ``QUICK_CELLS`` (full: every cell), the smoke grid's own."""
    name = grid_name or regimes.grid_name()
    if name == "smoke":
        return regimes.regimes("smoke")
    return [regime for regime in regimes.regimes("quick")
            if regime.batch == BATCH and regime.max_len == MAX_LEN
            and (name == "full" or (regime.cell, regime.layers) in QUICK_CELLS)]


def compile_strategies(grid_name: str | None = None) -> list[str]:
    """The registry's strategies that are not pitfalls, in registry order; on the quick grid,
    only those whose run step is the baseline's (a cold compile of manual_two_rnn, which stacks
    layers by hand, takes 20-30 s on 2 cores); on the smoke grid, the baseline alone (the others'
    extract steps make inductor build C++ kernels: ~10 s of g++ per cold compile)."""
    name = grid_name or regimes.grid_name()
    baseline = STRATEGIES.get(BASELINE)
    if name == "smoke" and baseline is not None:
        return [BASELINE]
    return [s for s, strategy in STRATEGIES.items() if not getattr(strategy, "pitfall", False)
            and (name == "full" or baseline is None
                 or getattr(strategy, "run", None) is baseline.run)]


REGIMES = {regime.id: regime for regime in compile_regimes()}
PARAMS = [list(REGIMES), compile_strategies() or ["unavailable"], list(COMPILE_MODES)]


class CompiledCase:
    """One point: the strategy module, eager or ``torch.compile``d, called twice (warm);
    ``first_call_seconds``: the cold compile (inductor's caches disabled), or eager's first call."""

    def __init__(self, regime: Regime, strategy: str, mode: str) -> None:
        if mode not in COMPILE_MODES:
            raise ValueError(f"compile: expected one of {COMPILE_MODES}, got {mode!r}")
        if MISSING:
            raise NotImplementedError(MISSING)
        for name in ("StrategyModule", "first_error_line"):
            if not hasattr(deploy, name):
                raise NotImplementedError(f"this commit lacks birnn_bench.deploy.{name}")
        if strategy not in STRATEGIES:
            raise NotImplementedError(f"this commit has no strategy {strategy!r}")
        if regime.device == "cuda" and not torch.cuda.is_available():
            raise NotImplementedError("no CUDA device")
        measure.pin_threads()
        measure.set_precision_flags()
        self.device = regime.device
        rnn, self.x, self.lengths = build(regime.spec())
        self.module = deploy.StrategyModule(rnn, strategy).eval()
        self.fn: Callable = self.module
        context: contextlib.AbstractContextManager = contextlib.nullcontext()
        if mode == "compile":
            from torch._inductor import config as inductor_config
            torch.compiler.reset()
            self.fn = torch.compile(self.module)
            context = inductor_config.patch(force_disable_caches=True)
        with torch.no_grad(), context, warnings.catch_warnings():
            # "dynamo_pgo force disabled by ... force_disable_caches": that is the point.
            warnings.filterwarnings("ignore", message="dynamo_pgo force disabled")
            start = time.perf_counter()
            try:
                self.fn(self.x, self.lengths)
                measure.synchronize(self.device)
            except Exception as error:
                raise NotImplementedError(
                    f"torch.compile fails: {deploy.first_error_line(error)}") from None
            self.first_call_seconds = time.perf_counter() - start
            self.fn(self.x, self.lengths)  # second call: nothing left to compile in samples
        measure.synchronize(self.device)

    def forward(self) -> Any:
        with torch.no_grad():
            return self.fn(self.x, self.lengths)

    def max_abs_error(self) -> float:
        """This timed point's output against the float64 oracle: shows a compile that changed it."""
        return error_against_oracle(self.module.rnn, self.x, self.lengths, self.forward(),
                                    device=self.device)


def _timer() -> float:
    return measure.synchronized_timer() if MISSING is None else time.perf_counter()


_CACHE: dict[tuple, CompiledCase] = {}


def _case_for(params: tuple) -> CompiledCase:
    """The built (and compiled) case of one point, kept: asv re-runs setup() between samples."""
    if params not in _CACHE:
        _CACHE.clear()
        _CACHE[params] = CompiledCase(REGIMES[params[0]], *params[1:])
    return _CACHE[params]


class Compiled:
    """End to end inference of the rnn + strategy module, eager or ``torch.compile``d: one process
    per point (it compiles in setup), 5 samples."""

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 600
    rounds = 1
    repeat = 5
    warmup_time = 0
    timer = staticmethod(_timer)

    def setup(self, *params):
        self.case = _case_for(params)

    def time_forward_compiled(self, *params):
        self.case.forward()


def _compile_figures():
    """{point: (first call seconds, error)}, every point compiled in ONE process (one compile per
    point, not per figure), after a throwaway compile that pays inductor's import."""
    if MISSING:
        return None
    measure.pin_threads()
    torch.compile(lambda t: t + 1)(torch.ones(2))
    found = {}
    for point in itertools.product(*PARAMS):
        try:
            case = CompiledCase(REGIMES[point[0]], *point[1:])
        except NotImplementedError:
            continue
        found[point] = (case.first_call_seconds, case.max_abs_error())
    return found


class CompiledFigures:
    """The compile's wall time (eager: its plain first call) and the compiled output's error
    against the float64 oracle, on the timed points."""

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 1800

    def setup_cache(self):
        return _compile_figures()

    setup_cache.timeout = 1800

    def setup(self, cache, *params):
        if cache is None or params not in cache:
            raise NotImplementedError("not measured here (see the compile's own n/a reason)")

    def track_compile_seconds(self, cache, *params):
        return cache[params][0]

    track_compile_seconds.unit = "seconds"

    def track_compiled_error(self, cache, *params):
        return cache[params][1]

    track_compiled_error.unit = "abs error"
