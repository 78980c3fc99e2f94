"""How fine a difference the paired engine resolves on this machine, measured, not assumed:
per workload, the baseline against itself (A/A: must come out tied and narrow) and against a
copy slowed by a calibrated busy loop (must come out slower), in the same rounds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from birnn_bench import compare, measure
from birnn_bench.bench import BenchCase, compare_strategies
from birnn_bench.strategies import BASELINE
from birnn_bench.workload import WorkloadSpec, build

SLOWDOWN = 0.05
AA_WITHIN = 0.03  # resolved: every A/A interval within +-3% of 1 ...
REQUIRED_SHARE = 0.9  # ... in this share of workloads, and the slowdown detected in as many


def _spin(iterations: int) -> None:
    for _ in range(iterations):
        pass


def calibrated_spin(seconds: float) -> int:
    """Iterations of a bare Python loop that take about ``seconds`` (the median of five)."""
    probe, rates = 200_000, []
    for _ in range(5):
        start = time.perf_counter()
        _spin(probe)
        rates.append(probe / max(time.perf_counter() - start, 1e-9))
    return max(1, round(statistics.median(rates) * seconds))


def resolution_check(spec: WorkloadSpec, *, slowdown: float = SLOWDOWN, budget_s: float = 10.0,
                     target: float = 0.015, threads: int | None = None,
                     **engine: Any) -> dict[str, Any]:
    """A/A and a known ``slowdown`` of the baseline on ``spec``, paired in the same rounds. The
    A/A's stopping target is tighter than the engine's default (+-1.5%), so that an interval
    centred a little off 1 still lies within the +-3% the check asks for."""
    if not 0 < slowdown < 1:
        raise ValueError(f"slowdown: expected a fraction in (0, 1), got {slowdown!r}")
    with measure.pinned(threads) as pinned:
        started = time.perf_counter()
        workload = build(spec)  # the slowed copy reads the baseline's very tensors
        case = BenchCase(spec, BASELINE, workload)
        calls = [compare.time_block(case.forward, 1, time.perf_counter,
                                    lambda: measure.synchronize(spec.device)) for _ in range(7)]
        spin = calibrated_spin(slowdown * statistics.median(calls))

        def slowed() -> None:
            case.forward()
            _spin(spin)

        name = f"{BASELINE} +{slowdown:.0%}"
        engine.setdefault("min_rounds", compare.ROBUST_ROUNDS)
        result = compare_strategies(spec, [], "forward", extra={name: slowed}, workload=workload,
                                    budget_s=budget_s, target=target, **engine)
    aa, slow = result.resolution, result.ratios[name].ratio
    return {
        "workload": spec.as_dict(), "baseline": BASELINE, "threads": pinned,
        "slowdown": slowdown, "aa": asdict(aa), "slowed": asdict(slow),
        "aa_within": bool(aa.low >= 1 - AA_WITHIN and aa.high <= 1 + AA_WITHIN),
        "aa_significant": aa.significant, "slowdown_detected": slow.verdict == "slower",
        "rounds": result.rounds, "stopped": result.stopped,
        "seconds": round(time.perf_counter() - started, 2),
    }


def summarize(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Shares of workloads with a narrow A/A, a significant A/A, a detected slowdown; passed
    when the first and last reach ``REQUIRED_SHARE`` and no A/A is significant."""
    rows = list(records)
    if not rows:
        raise ValueError("resolution: no workloads measured")
    n = len(rows)
    within, significant, detected = (sum(r[key] for r in rows) for key in (
        "aa_within", "aa_significant", "slowdown_detected"))
    return {
        "workloads": n, "aa_within": within, "aa_significant": significant,
        "slowdown_detected": detected, "aa_within_required": AA_WITHIN,
        "required_share": REQUIRED_SHARE,
        "passed": within >= REQUIRED_SHARE * n and detected >= REQUIRED_SHARE * n
        and significant == 0,
        "seconds": round(sum(r["seconds"] for r in rows), 1),
        "median_aa_half_width": statistics.median(
            (r["aa"]["high"] - r["aa"]["low"]) / 2 / r["aa"]["estimate"] for r in rows),
    }
