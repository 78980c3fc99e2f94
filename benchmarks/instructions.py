"""asv benchmarks: instructions per call under callgrind (``birnn_bench.instructions``), on the
CPU regimes of ``regimes.instruction_regimes`` (smoke grid: the baseline only, unless
``BIRNN_BENCH_INSTRUCTIONS=all``); n/a with the reason without valgrind. Opt-in:
``python3 scripts/main_job.py --instructions``."""

import os

from . import regimes
from .common import BASELINE, PARAM_NAMES, STRATEGIES, pin, progress

try:
    from birnn_bench import instructions as _instructions
except ImportError:  # a commit that predates the instruction counts: its points are n/a
    _instructions = None

REGIMES = regimes.instruction_regimes()
PARAMS = [list(REGIMES), list(STRATEGIES)]
#: ``all``: every strategy also on the smoke grid (what scripts/ci/pr_compare.py --grid smoke
#: compares; about 1 minute of valgrind instead of 45 s).
COUNT_ENV = "BIRNN_BENCH_INSTRUCTIONS"


def counted_strategies(grid):
    """The strategies counted on ``grid``: the baseline alone on the smoke grid (the test
    suite's run), unless ``$BIRNN_BENCH_INSTRUCTIONS`` is ``all``; else every one."""
    chosen = os.environ.get(COUNT_ENV, "")
    if chosen not in ("", "all"):
        raise ValueError(f"{COUNT_ENV}: expected 'all' or nothing, got {chosen!r}")
    return [BASELINE] if grid == "smoke" and chosen != "all" else list(STRATEGIES)


def count_all(grid=None):
    """{(regime, strategy): {step: instructions per call}} on ``grid`` (default: the env's), or
    the reason why nothing is counted (n/a)."""
    if _instructions is None:
        return "this commit predates birnn_bench.instructions"
    reason = _instructions.unavailable()
    if reason:
        progress(f"instructions: n/a ({reason})")
        return reason
    grid = grid or regimes.grid_name()
    chosen = regimes.instruction_regimes(grid)
    names = counted_strategies(grid)
    keys = [(regime_id, name) for regime_id in chosen for name in names]
    points = [_instructions.Point(chosen[regime_id].spec().as_dict(), name)
              for regime_id, name in keys]
    counts = _instructions.count(points, threads=pin(), progress=progress)
    return dict(zip(keys, counts, strict=True))


class Instructions:
    """Instructions per call of the inference forward and of the extract step alone."""

    params = PARAMS
    param_names = PARAM_NAMES
    unit = "instructions"
    timeout = 3600

    def setup_cache(self):
        return count_all()

    setup_cache.timeout = 3600

    def setup(self, cache, regime, strategy):
        if isinstance(cache, str):
            raise NotImplementedError(cache)
        if (regime, strategy) not in cache:
            raise NotImplementedError(f"{regime} / {strategy}: not counted on this machine")

    def track_instructions(self, cache, regime, strategy):
        return cache[(regime, strategy)]["forward"]

    def track_instructions_extract(self, cache, regime, strategy):
        return cache[(regime, strategy)]["extract"]
