#!/usr/bin/env python3
"""Which rnn kernels each strategy runs on this machine, with oneDNN on and off, and the padded
plain call's time over the packed call's under each: why the ranking depends on the CPU.

Over the quick grid's CPU regimes (LSTM and GRU, 1 and 2 layers, every shape): every registered
strategy's kernel family and ATen op counts from one inference forward (``birnn_bench.kernels``,
exact), then ``hn_padded`` against ``hn_index`` with the paired engine, oneDNN on and off, one
process, threads pinned (1 unless BIRNN_BENCH_THREADS says otherwise). 2-3 minutes here.

    python scripts/kernels.py [--json docs/kernels-<machine>.json] [--budget S]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import NoReturn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from benchmarks import regimes  # noqa: E402
from birnn_bench import compare, hardware, kernels, measure  # noqa: E402
from birnn_bench._io import check_output  # noqa: E402
from birnn_bench.workload import build  # noqa: E402

PROG = "scripts/kernels.py"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message.removeprefix('argument ')}\n")


def _budget(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def _interval(prefix: str, interval: compare.Interval) -> dict[str, float]:
    return {prefix: interval.estimate, f"{prefix}_low": interval.low,
            f"{prefix}_high": interval.high}


def measure_regime(regime: regimes.Regime, budget_s: float) -> tuple[list[dict], list[dict]]:
    """(kernel rows, timing rows) of one regime."""
    spec = regime.spec()
    workload = build(spec)
    head = {"regime": regime.id, **regime.fields()}  # the regime's fields after its id
    uses = [{**head, **dataclasses.asdict(use)}
            for use in kernels.kernel_uses(spec, workload=workload)]
    timings = []
    for t in kernels.time_paths(spec, budget_s, workload=workload):
        timings.append({**head, "onednn": t.onednn, "padded": kernels.PADDED,
                        "packed": kernels.PACKED, **_interval("ratio", t.ratio),
                        **_interval("aa", t.resolution), "verdict": t.verdict,
                        "padded_s": t.padded_s, "packed_s": t.packed_s, "rounds": t.rounds,
                        "stopped": t.stopped})
    return uses, timings


def _short(family: str) -> str:
    return family.replace("native per-step", "per-step").replace("native fused", "fused")


def dump(payload: dict) -> str:
    """``payload`` as JSON, one list entry per line (a rerun's diff stays readable)."""
    items = []
    for key, value in payload.items():
        if isinstance(value, list):
            inner = ",\n".join(f"  {json.dumps(v)}" for v in value)
            items.append(f" {json.dumps(key)}: [\n{inner}\n ]")
        else:
            items.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(items) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="write the results here (the committed ones: "
                        "docs/kernels-<machine>.json, the machine's name as "
                        "birnn_bench.hardware.machine_name gives it)")
    parser.add_argument("--budget", type=_budget, default=5.0, metavar="S",
                        help="seconds at most of each paired comparison (two per regime; it stops "
                        "sooner once its intervals are narrow; default 5)")
    args = parser.parse_args(argv)
    try:
        if args.json is not None:
            check_output("--json", args.json)
        threads = measure.pin_threads()
    except ValueError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    measure.pin_allocator()  # as the suite's processes do; recorded in the payload
    facts = hardware.facts("cpu")
    chosen = regimes.regimes("quick", ("cpu",))
    rows: list[dict] = []
    timings: list[dict] = []
    print(f"{hardware.describe(facts)}; torch {torch.__version__}, {threads} thread(s)")
    print(f"{'regime':<44} {'padded on':>10} {'off':>10} {'packed':>10}  padded/packed on, off")
    for n, regime in enumerate(chosen, start=1):
        print(f"[{n}/{len(chosen)}] {regime.id}", file=sys.stderr, flush=True)
        uses, times = measure_regime(regime, args.budget)
        rows += uses
        timings += times
        family = {(u["strategy"], u["onednn"]): _short(u["family"]) for u in uses}
        on, off = (next(t for t in times if t["onednn"] is flag) for flag in (True, False))
        print(f"{regime.id:<44} {family[(kernels.PADDED, True)]:>10} "
              f"{family[(kernels.PADDED, False)]:>10} {family[(kernels.PACKED, True)]:>10}  "
              f"{on['ratio']:.2f} [{on['ratio_low']:.2f}, {on['ratio_high']:.2f}], "
              f"{off['ratio']:.2f} [{off['ratio_low']:.2f}, {off['ratio_high']:.2f}]",
              flush=True)
    if args.json is not None:
        payload = {"machine": hardware.machine_name(facts), "hardware": facts,
                   "torch": torch.__version__, "threads": threads,
                   "allocator": measure.allocator(),
                   "onednn_available": bool(torch.backends.mkldnn.is_available()),
                   "budget_s": args.budget, "padded": kernels.PADDED, "packed": kernels.PACKED,
                   "rows": rows, "timings": timings}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(dump(payload), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
