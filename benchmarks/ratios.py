"""asv benchmarks: paired time ratios to the baseline (``birnn_bench.compare``, every regime in
ONE process), which stay put across commits on a noisy machine where absolute times do not. The
baseline's own row is its A/A; ``Resolution*`` record, per regime, the baseline slowed by a known
5% timed in the SAME rounds, and the rounds: the resolution of this very run. A strategy wrong on
a regime is timed for the minimum rounds only (its ratio is shown, never decided), and a
candidate leaves once decided, so the rounds go where a decision is open.

``BIRNN_BENCH_PAIRED_BUDGET``: seconds per regime and mode (default 30) once a regime has had
``MIN_ROUNDS`` rounds, and ``BUDGET_ROUNDS`` (a slow regime runs on, to 3x the budget at most);
most stop earlier, at the engine's targets.
``BIRNN_BENCH_PAIRED_KEEP``: a JSON file where each regime's result is kept as it finishes (the
main job names one per commit and machine): an interrupted run keeps what it measured and the
next one measures only the rest."""

import json
import os
import time

from .common import (
    BASELINE,
    REGIME_NAMES,
    REGIME_PARAMS,
    STRATEGIES,
    Bulk,
    pin,
    progress,
    runnable_regimes,
)

try:
    from birnn_bench import compare
    from birnn_bench.bench import compare_strategies
    from birnn_bench.check import check_spec
    from birnn_bench.resolution import SLOWED_SUFFIX
except ImportError:  # a commit that predates the paired engine: its points are n/a
    compare = compare_strategies = check_spec = SLOWED_SUFFIX = None

BUDGET_ENV = "BIRNN_BENCH_PAIRED_BUDGET"
KEEP_ENV = "BIRNN_BENCH_PAIRED_KEEP"
DEFAULT_BUDGET = "30"
#: Rounds every regime gets before the budget may stop it (with the engine's minimum, 8, one
#: disturbed round widened an A/A to 0.97-1.45); 16 where the engine predates ROBUST_ROUNDS.
MIN_ROUNDS = getattr(compare, "ROBUST_ROUNDS", 16)
#: A slow regime (T512: 0.1 s a call) still gets this many rounds past the budget, up to
#: MAX_FACTOR x the budget: at 16 rounds its A/A was +-7-40% on a busy box, and an A/A
#: resolves to +-2% only with some 40 rounds at the per-round noise seen here (~3%).
BUDGET_ROUNDS, MAX_FACTOR = 40, 3
UNIT = f"x {BASELINE}"


def _budget():
    text = os.environ.get(BUDGET_ENV, DEFAULT_BUDGET)
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ValueError(f"{BUDGET_ENV}: expected seconds > 0, got {text!r}")
    return value


def _kept(mode, budget):
    """{regime id: entry} kept by an interrupted run of this mode and budget (file per commit)."""
    path = os.environ.get(KEEP_ENV)
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return dict(data[mode]) if data.get("budget") == budget else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # none yet, or unreadable: measure again


def _keep(mode, budget, regime_id, entry):
    """Adds one regime's entry to the keep file, atomically (an interrupt leaves the old file)."""
    path = os.environ.get(KEEP_ENV)
    if not path:
        return
    data = {"budget": budget}
    try:
        with open(path, encoding="utf-8") as handle:
            old = json.load(handle)
        if old.get("budget") == budget:
            data = old
    except (OSError, ValueError, AttributeError):
        pass
    data.setdefault(mode, {})[regime_id] = entry
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(path + ".tmp", path)


def _measure(regime, mode, budget):
    spec = regime.spec()
    wrong = [row.strategy for row in check_spec(spec) if not row.passed]
    result = compare_strategies(spec, list(STRATEGIES), mode, budget_s=budget,
                                min_rounds=MIN_ROUNDS, slowed=True, brief=wrong,
                                budget_rounds=BUDGET_ROUNDS, max_seconds=MAX_FACTOR * budget)
    slowed = result.ratios[BASELINE + SLOWED_SUFFIX].ratio
    return {"ratios": {name: [p.ratio.estimate, p.ratio.low, p.ratio.high]
                       for name, p in result.ratios.items() if name in STRATEGIES},
            "slowed": [slowed.estimate, slowed.low, slowed.high],
            "rounds": result.rounds, "seconds": round(result.seconds, 3)}


def paired_ratios(mode):
    """{(regime, strategy): (ratio, low, high)} for every regime this machine runs, and
    {("resolution", regime): {"slowed": (ratio, low, high), "rounds", "seconds"}}."""
    if compare_strategies is None or check_spec is None:
        return None
    budget = _budget()
    pin()
    todo = runnable_regimes(train=mode == "train_step")
    kept = _kept(mode, budget)
    found = {}
    started = time.perf_counter()
    for index, regime in enumerate(todo, start=1):
        entry = kept.get(regime.id)
        note = " (kept from an interrupted run)"
        if entry is None:
            entry, note = _measure(regime, mode, budget), ""
            _keep(mode, budget, regime.id, entry)
        for name, ratio in entry["ratios"].items():
            found[(regime.id, name)] = tuple(ratio)
        found[("resolution", regime.id)] = entry
        aa = entry["ratios"][BASELINE]
        progress(f"[paired {mode} {index}/{len(todo)}] {regime.id}: {entry['rounds']} rounds, "
                 f"{entry['seconds']:.1f} s, A/A {aa[1]:.3f}-{aa[2]:.3f}, +5% "
                 f"{entry['slowed'][1]:.3f}-{entry['slowed'][2]:.3f}{note} "
                 f"({time.perf_counter() - started:.0f} s so far)")
    return found


class _Paired(Bulk):
    """``common.Bulk`` (its parameters and timeout), with the unit of a ratio. Its ``setup`` is
    Bulk's but for the message, and stays as it is: asv hashes its source into the version of
    every Paired* benchmark, and a new version drops their history from the dashboard."""

    unit = UNIT

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


class _Resolution:
    """Per regime: the baseline slowed by a known 5%, over the baseline, in the same rounds as the
    paired ratios (sharing their ``setup_cache``: same process, same rounds), and the rounds."""

    params = REGIME_PARAMS
    param_names = REGIME_NAMES
    unit = UNIT
    timeout = 3600

    def setup(self, cache, regime):
        if cache is None:
            raise NotImplementedError("this commit predates birnn_bench.compare")
        if ("resolution", regime) not in cache:
            raise NotImplementedError(f"{regime}: not measured on this machine")

    def track_slowed_ratio(self, cache, regime):
        return cache[("resolution", regime)]["slowed"][0]

    def track_slowed_ratio_low(self, cache, regime):
        return cache[("resolution", regime)]["slowed"][1]

    def track_slowed_ratio_high(self, cache, regime):
        return cache[("resolution", regime)]["slowed"][2]

    def track_rounds(self, cache, regime):
        return cache[("resolution", regime)]["rounds"]

    track_rounds.unit = "rounds"


class ResolutionForward(_Resolution):
    setup_cache = PairedForward.setup_cache


class ResolutionTrainStep(_Resolution):
    setup_cache = PairedTrainStep.setup_cache
