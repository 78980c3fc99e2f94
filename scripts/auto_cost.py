#!/usr/bin/env python3
"""What ``last_states(strategy="auto")`` costs per call over naming the strategy it picks.

On the quick grid's cheapest CPU regimes (B 1, T 32: the calls where a fixed cost weighs most),
inference: ``last_states(..., strategy="auto")`` against ``last_states(..., strategy=<what auto
picks there>)`` with the paired engine (ratio per round, 99% interval, A/A), and the policy
lookup alone (``policy.choose``, median of repeated calls) as a share of the named call's time.
Threads pinned (1 unless BIRNN_BENCH_THREADS says otherwise). About a minute here.

    python scripts/auto_cost.py [--budget S]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from benchmarks import regimes  # noqa: E402
from birnn_bench import compare, hardware, last_states, measure, policy  # noqa: E402
from birnn_bench._rnn import time_dim  # noqa: E402
from birnn_bench.cli import positive_seconds  # noqa: E402
from birnn_bench.workload import build  # noqa: E402

PROG = "scripts/auto_cost.py"
#: Calls of ``policy.choose`` per sample, samples per regime (the median is reported).
LOOKUP_CALLS, LOOKUP_SAMPLES = 200, 25


def lookup_seconds(rnn: torch.nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor) -> float:
    """Median seconds of one ``policy.choose`` call (the work ``auto`` adds to a call)."""
    lookup = partial(policy.choose, rnn, x, lengths, x.shape[time_dim(rnn)])
    return statistics.median(compare.time_block(lookup, LOOKUP_CALLS, time.perf_counter,
                                                lambda: None)
                             for _ in range(LOOKUP_SAMPLES))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=positive_seconds, default=10.0, metavar="S",
                        help="seconds at most of each paired comparison (default 10)")
    args = parser.parse_args(argv)
    try:
        threads = measure.pin_threads()
    except ValueError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    allocator = measure.pin_allocator()  # as the suite's processes do
    chosen = [r for r in regimes.regimes("quick", ("cpu",)) if r.batch == 1]
    print(f"{hardware.describe(hardware.facts('cpu'))}; torch {torch.__version__}, "
          f"{threads} thread(s), allocator: {allocator}")
    print(f"{'regime':<38} {'auto picks':<17} {'named call':>10} {'lookup':>8} {'share':>6}  "
          f"auto / named [99%]   A/A [99%]   verdict")
    with measure.pinned(threads), torch.no_grad():
        for regime in chosen:
            workload = build(regime.spec())
            rnn, x, lengths = workload.rnn.eval(), workload.x, workload.lengths
            picked = policy.choose(rnn, x, lengths, x.shape[time_dim(rnn)])
            found = compare.compare(
                {"named": partial(last_states, rnn, x, lengths, strategy=picked),
                 "auto": partial(last_states, rnn, x, lengths, strategy="auto")},
                "named", budget_s=args.budget)
            lookup = lookup_seconds(rnn, x, lengths)
            auto, aa = found.ratios["auto"], found.resolution
            print(f"{regime.id:<38} {picked:<17} {auto.baseline_seconds * 1e3:>8.3f}ms "
                  f"{lookup * 1e6:>6.1f}us {lookup / auto.baseline_seconds:>6.2%}  "
                  f"{auto.ratio.estimate:.3f} [{auto.ratio.low:.3f}, {auto.ratio.high:.3f}]  "
                  f"[{aa.low:.3f}, {aa.high:.3f}]  {found.verdict('auto')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
