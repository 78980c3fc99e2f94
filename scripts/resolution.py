"""Measure the paired engine's resolution on this machine over the suite's quick regimes.

    python3 scripts/resolution.py [--json docs/resolution.json] [--budget 10] [--grid quick]

Per CPU regime of the grid: the baseline against itself (A/A) and against a copy slowed by a
calibrated 5% (``birnn_bench.resolution``); the JSON, quoted in FINDINGS.md, is rewritten after
each regime. Exit 0 when the criteria hold (A/A within +-3% in >= 90% of regimes, none
significant, the 5% slowdown detected in >= 90%), 1 when they do not, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# benchmarks/ (the regimes) is not an installed package: import it from this checkout.
sys.path.insert(0, str(REPO))

from benchmarks import regimes  # noqa: E402
from birnn_bench import resolution  # noqa: E402
from birnn_bench._io import check_output_paths  # noqa: E402
from birnn_bench.cli import positive_int, positive_seconds  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=REPO / "docs" / "resolution.json")
    parser.add_argument("--budget", type=positive_seconds, default=10.0,
                        help="seconds of paired rounds per regime (default 10)")
    parser.add_argument("--grid", choices=("quick", "smoke", "full"), default="quick")
    parser.add_argument("--threads", type=positive_int, default=None)
    args = parser.parse_args(argv)
    try:
        check_output_paths((("--json", args.json),))
    except ValueError as err:
        print(f"resolution: error: {err}", file=sys.stderr)
        return 2
    todo = regimes.regimes(args.grid, ("cpu",))
    records: list[dict] = []
    started = time.perf_counter()
    for index, regime in enumerate(todo, start=1):
        record = resolution.resolution_check(regime.spec(), budget_s=args.budget,
                                             threads=args.threads)
        record["regime"] = regime.id
        records.append(record)
        aa, slowed = record["aa"], record["slowed"]
        print(f"[{index}/{len(todo)}] {regime.id}: A/A {aa['estimate']:.3f} "
              f"[{aa['low']:.3f}, {aa['high']:.3f}], +5% {slowed['estimate']:.3f} "
              f"[{slowed['low']:.3f}, {slowed['high']:.3f}] "
              f"{'detected' if record['slowdown_detected'] else 'NOT detected'}; "
              f"{record['rounds']} rounds, {record['seconds']:.1f} s "
              f"({time.perf_counter() - started:.0f} s so far)", file=sys.stderr, flush=True)
        payload = {"summary": resolution.summarize(records), "grid": args.grid,
                   "complete": index == len(todo), "regimes": records}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    summary = payload["summary"]
    print(f"A/A within +-{summary['aa_within_required']:.0%}: {summary['aa_within']}/"
          f"{summary['workloads']}; A/A significant: {summary['aa_significant']}; 5% slowdown "
          f"detected: {summary['slowdown_detected']}/{summary['workloads']}; "
          f"{'PASSED' if summary['passed'] else 'NOT passed'} ({summary['seconds']:.0f} s); "
          f"wrote {args.json}")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
