#!/usr/bin/env python3
"""Measurement integrity: asv's own timing vs torch.utils.benchmark, side by side, one process.

Three strategies on three quick-grid regimes; each round measures every point back to back
through asv_runner's TimeBenchmark (the object ``asv run`` builds for ``BENCHMARK``) and with
``torch.utils.benchmark`` on the same BenchCase, rounds interleaving all points so that drift hits
both alike. The median of the per-round ratios of medians (with the engine's 99% interval) must
lie within ``--tolerance`` of 1.

    python scripts/crosscheck.py [--device cpu|cuda] [--rounds 8] [--json FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
import torch.utils.benchmark as torch_benchmark  # noqa: E402
from asv_runner.discovery import get_benchmark_from_name  # noqa: E402

from benchmarks import regimes  # noqa: E402
from birnn_bench import compare, measure  # noqa: E402
from birnn_bench.bench import BenchCase  # noqa: E402

BENCHMARK = "strategies.Forward.time_forward"
STRATEGIES = ("hn_index", "packed_unpack", "manual_two_rnn")
#: Quick-grid regimes (ids without the device): a latency case, a 2-layer batch of skewed
#: lengths, a GRU batch of equal lengths.
REGIMES = ("lstm-L1-B1-T32-H128-equal-float32", "lstm-L2-B64-T128-H128-skewed-float32",
           "gru-L1-B64-T32-H128-equal-float32")


def regime(device: str, name: str) -> regimes.Regime:
    """The quick grid's regime ``{device}-{name}``."""
    found = regimes.by_id("quick", (device,))
    if f"{device}-{name}" not in found:
        raise ValueError(f"{device}-{name} is not a regime of the quick grid on {device}")
    return found[f"{device}-{name}"]


def asv_samples(point: tuple[str, str]) -> list[float]:
    """Seconds per call of (regime id, strategy), as asv run measures them (setup, warmup,
    repeat, samples)."""
    root = str(REPO / "benchmarks")
    params = get_benchmark_from_name(root, BENCHMARK).params
    wanted = tuple(repr(v) for v in point)  # asv holds parameter values as repr()
    index = next((i for i, combo in enumerate(itertools.product(*params)) if combo == wanted), None)
    if index is None:
        raise ValueError(f"{point} is not a point of the benchmark (BIRNN_BENCH_GRID must be "
                         "quick, the default)")
    bench = get_benchmark_from_name(root, f"{BENCHMARK}-{index}")
    if bench.do_setup():
        raise RuntimeError(f"asv skipped {point}")
    try:
        return list(bench.do_run()["samples"])
    finally:
        bench.do_teardown()


def torch_samples(regime: regimes.Regime, strategy: str, min_run_time: float) -> list[float]:
    case = BenchCase(regime.spec(), strategy)
    timer = torch_benchmark.Timer(stmt="fn()", globals={"fn": case.forward},
                                  num_threads=torch.get_num_threads())
    return list(timer.blocked_autorange(min_run_time=min_run_time).times)


def run(device: str, rounds: int, min_run_time: float) -> list[dict]:
    points = [(regime(device, name), strategy) for name in REGIMES for strategy in STRATEGIES]
    samples = {p: {"asv": [], "torch": [], "ratios": []} for p in points}
    for round_index in range(rounds):
        for n, (r, strategy) in enumerate(points, start=1):
            print(f"\rround {round_index + 1}/{rounds}: point {n}/{len(points)}", end="",
                  file=sys.stderr, flush=True)
            by_asv = asv_samples((r.id, strategy))
            by_torch = torch_samples(r, strategy, min_run_time)
            got = samples[(r, strategy)]
            got["asv"] += by_asv
            got["torch"] += by_torch
            got["ratios"].append(statistics.median(by_torch) / statistics.median(by_asv))
    print(file=sys.stderr)
    rows = []
    for (r, strategy), got in samples.items():
        ratio = compare.median_interval(got["ratios"])
        rows.append({
            "regime": r.id, **r.fields(),  # the regime's fields after its id
            "strategy": strategy, "asv_median_s": statistics.median(got["asv"]),
            "torch_median_s": statistics.median(got["torch"]), "ratio": ratio.estimate,
            "ratio_low": ratio.low, "ratio_high": ratio.high, "asv_samples": len(got["asv"]),
            "torch_samples": len(got["torch"]),
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=compare.MIN_ROUNDS)
    parser.add_argument("--min-run-time", type=float, default=0.2)
    parser.add_argument("--tolerance", type=float, default=0.15)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    threads = measure.pin_threads()
    rows = run(args.device, args.rounds, args.min_run_time)
    print(f"torch.utils.benchmark median / asv median, {args.device}, {threads} thread(s)")
    print(f"{'shape':<38} {'strategy':<15} {'asv':>10} {'torch':>10} {'ratio':>6}  99% interval")
    for row in rows:
        shape = f"{row['cell']} b{row['batch']} T{row['max_len']} {row['lengths']} " \
                f"h{row['hidden']} L{row['layers']}"
        print(f"{shape:<38} {row['strategy']:<15} {row['asv_median_s'] * 1e3:>8.3f}ms "
              f"{row['torch_median_s'] * 1e3:>8.3f}ms {row['ratio']:>6.3f}  "
              f"{row['ratio_low']:.3f}-{row['ratio_high']:.3f}")
    worst = max([0.0, *(abs(row["ratio"] - 1) for row in rows)])
    agree = worst <= args.tolerance
    print(f"largest disagreement {worst * 100:.1f}% (tolerance {args.tolerance * 100:.0f}%): "
          f"{'AGREE' if agree else 'DISAGREE'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"environment": measure.environment_info(), "tolerance": args.tolerance,
                   "largest_disagreement": worst, "agree": agree, "rows": rows}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.json}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
