"""A known slowdown to time beside the candidates: how fine a difference a comparison resolves,
measured in the same rounds, not assumed. ``slowed_copy`` wraps the baseline's call with a
calibrated busy loop worth ``SLOWDOWN`` of its time; a comparison that could tell a few percent
finds it slower (``compare.verdict``), and its A/A tied and narrow."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from birnn_bench import compare

SLOWDOWN = 0.05
#: The name a slowed copy of ``baseline`` goes by among the candidates.
SLOWED_SUFFIX = f" +{SLOWDOWN:.0%}"


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


def slowed_copy(call: Callable[[], object], sync: Callable[[], None] | None = None,
                slowdown: float = SLOWDOWN) -> Callable[[], None]:
    """``call`` followed by a busy loop worth ``slowdown`` of its median time (seven calls,
    ``sync`` around each: on CUDA the loop must not overlap queued work)."""
    if not 0 < slowdown < 1:
        raise ValueError(f"slowdown: expected a fraction in (0, 1), got {slowdown!r}")
    sync = sync or (lambda: None)
    call()
    seconds = statistics.median(compare.time_block(call, 1, time.perf_counter, sync)
                                for _ in range(7))
    spin = calibrated_spin(slowdown * seconds)

    def slowed() -> None:
        call()
        sync()
        _spin(spin)

    return slowed
