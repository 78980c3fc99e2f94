"""asv benchmarks: ``torch.compile`` against eager, end to end, on a few regimes.

Parameters ``regime``, ``strategy``, ``compile``:

* ``regime``: ids from ``benchmarks/regimes.py``: the quick grid's regimes with batch 64 and
  max_len 32 (every cell, layer count and dtype of that shape, on every device this torch build
  has); under ``BIRNN_BENCH_GRID=smoke`` the smoke grid's regimes instead, so that CI's real asv
  run stays small.
* ``strategy``: the registry's strategies that are not the thread's pitfalls (a cold compile
  costs seconds per process, and nobody deploys a pitfall).
* ``compile``: ``eager`` or ``compile`` (plain ``torch.compile``, default settings: the rnn
  itself graph-breaks and runs eagerly).

Every point runs the rnn and the commit's own registry strategy wrapped in
``birnn_bench.deploy.StrategyModule`` (the module the deployability check deploys), in eval mode
without autograd. A commit that lacks what a point needs, a device this machine lacks, or a
compile that fails makes the point n/a (``NotImplementedError`` in setup).
"""

from __future__ import annotations

import contextlib
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
    from birnn_bench.strategies import STRATEGIES
    from birnn_bench.workload import build
except ImportError as err:  # a commit that predates a piece of the package: its points are n/a
    MISSING = f"this commit lacks {err.name}"
    STRATEGIES = {}
else:
    MISSING = None

COMPILE_MODES = ("eager", "compile")
PARAM_NAMES = ["regime", "strategy", "compile"]
#: The quick grid's regimes of this shape are the ones measured (smoke grid: its own regimes).
BATCH, MAX_LEN = 64, 32


def compile_regimes(grid_name: str | None = None) -> list[Regime]:
    """The regimes of the compile benchmarks for grid ``grid_name`` (default:
    ``BIRNN_BENCH_GRID``)."""
    if (grid_name or regimes.grid_name()) == "smoke":
        return regimes.regimes("smoke")
    return [regime for regime in regimes.regimes("quick")
            if regime.batch == BATCH and regime.max_len == MAX_LEN]


def compile_strategies() -> list[str]:
    """The registry's strategies that are not pitfalls, in registry order."""
    return [name for name, strategy in STRATEGIES.items()
            if not getattr(strategy, "pitfall", False)]


REGIMES = {regime.id: regime for regime in compile_regimes()}
PARAMS = [list(REGIMES), compile_strategies() or ["unavailable"], list(COMPILE_MODES)]


class CompiledCase:
    """One point: the strategy module, eager or ``torch.compile``d, called twice (warm).

    ``first_call_seconds`` is the first call's wall time: for ``compile`` that is the compile
    (dynamo + inductor, with inductor's caches disabled so that every process measures a cold
    compile), for ``eager`` the plain first call.
    """

    def __init__(self, regime: Regime, strategy: str, mode: str) -> None:
        if mode not in COMPILE_MODES:
            raise ValueError(f"compile: expected one of {COMPILE_MODES}, got {mode!r}")
        if MISSING:
            raise NotImplementedError(MISSING)
        lacks = [name for name in ("StrategyModule", "first_error_line")
                 if not hasattr(deploy, name)]
        if lacks:
            raise NotImplementedError(f"this commit lacks birnn_bench.deploy.{lacks[0]}")
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
        """This point's output (compiled or eager) against the float64 oracle: a compile that
        changed the result shows here, on the very configuration that is timed."""
        return error_against_oracle(self.module.rnn, self.x, self.lengths, self.forward(),
                                    device=self.device)


def _timer() -> float:
    return measure.synchronized_timer() if MISSING is None else time.perf_counter()


_CACHE: dict[tuple, CompiledCase] = {}


def _case_for(params: tuple) -> CompiledCase:
    # asv_runner re-runs setup() between the timed calls of a sample when number > 1: keep the
    # built (and compiled) case, one point per process at a time.
    if params not in _CACHE:
        _CACHE.clear()
        regime, strategy, mode = params
        _CACHE[params] = CompiledCase(REGIMES[regime], strategy, mode)
    return _CACHE[params]


class Compiled:
    """End to end inference (eval, no_grad) of the rnn + strategy module, eager or
    ``torch.compile``d."""

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 600
    # Two processes (each compiles anew: seconds per point) of 10 samples; the analysis splits
    # each process's samples in chunks of its SAMPLES_PER_ROUND (5): only stricter.
    rounds = 2
    repeat = 10
    warmup_time = 0.05
    timer = staticmethod(_timer)

    def setup(self, *params):
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
