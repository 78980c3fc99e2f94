"""asv benchmarks: paired time ratios to the baseline (``birnn_bench.compare``, every regime in
ONE process), which stay put across commits on a noisy machine where absolute times do not. The
baseline's own row is its A/A. ``BIRNN_BENCH_PAIRED_BUDGET``: seconds per regime and mode
(default 8) once a regime has had ``MIN_ROUNDS`` rounds."""

import os
import time

from .common import BASELINE, PARAM_NAMES, PARAMS, STRATEGIES, pin, progress, runnable_regimes

try:
    from birnn_bench import compare
    from birnn_bench.bench import compare_strategies
except ImportError:  # a commit that predates the paired engine: its points are n/a
    compare = compare_strategies = None

BUDGET_ENV = "BIRNN_BENCH_PAIRED_BUDGET"
#: Rounds every regime gets before the budget may stop it (with the engine's minimum, 8, one
#: disturbed round widened an A/A to 0.97-1.45); 16 where the engine predates ROBUST_ROUNDS.
MIN_ROUNDS = getattr(compare, "ROBUST_ROUNDS", 16)
UNIT = f"x {BASELINE}"


def _budget():
    text = os.environ.get(BUDGET_ENV, "8")
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ValueError(f"{BUDGET_ENV}: expected seconds > 0, got {text!r}")
    return value


def paired_ratios(mode):
    """{(regime, strategy): (ratio, low, high)} for every regime this machine runs."""
    if compare_strategies is None:
        return None
    budget = _budget()
    pin()
    todo = runnable_regimes(train=mode == "train_step")
    found = {}
    started = time.perf_counter()
    for index, regime in enumerate(todo, start=1):
        result = compare_strategies(regime.spec(), list(STRATEGIES), mode, budget_s=budget,
                                    min_rounds=MIN_ROUNDS)
        for name, paired in result.ratios.items():
            found[(regime.id, name)] = (paired.ratio.estimate, paired.ratio.low, paired.ratio.high)
        progress(f"[paired {mode} {index}/{len(todo)}] {regime.id}: {result.rounds} rounds, "
                 f"{result.seconds:.1f} s, A/A {result.resolution.low:.3f}-"
                 f"{result.resolution.high:.3f} ({time.perf_counter() - started:.0f} s so far)")
    return found


class _Paired:
    params = PARAMS
    param_names = PARAM_NAMES
    unit = UNIT
    timeout = 3600

    def setup(self, cache, regime, strategy):
        if cache is None:
            raise NotImplementedError("this commit predates birnn_bench.compare")
        if (regime, strategy) not in cache:
            raise NotImplementedError(f"{regime} / {strategy}: not measured on this machine")

    def track_time_ratio(self, cache, regime, strategy):
        return cache[(regime, strategy)][0]

    def track_time_ratio_low(self, cache, regime, strategy):
        return cache[(regime, strategy)][1]

    def track_time_ratio_high(self, cache, regime, strategy):
        return cache[(regime, strategy)][2]


class PairedForward(_Paired):
    """Inference (eval, no_grad), each strategy's time over the baseline's, paired per round."""

    def setup_cache(self):
        return paired_ratios("forward")

    setup_cache.timeout = 3600


class PairedTrainStep(_Paired):
    """A training step (forward + backward), paired like PairedForward."""

    def setup_cache(self):
        return paired_ratios("train_step")

    setup_cache.timeout = 3600
