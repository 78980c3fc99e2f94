"""How the model's sentences and tables write a value: a ratio, a 99% interval, seconds,
bytes. Pure functions: a number in, text out."""

from __future__ import annotations

import math


def ratio(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.2f}×" if value < 10 else f"{value:.1f}×"


def interval(low: float, high: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "[undecided]"
    return f"[{low:.2f}, {high:.2f}]"


def ratio_interval(value: float, low: float, high: float) -> str:
    return f"{ratio(value)} {interval(low, high)}"


def seconds(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value * 1e9:.3g} ns"


def byte_count(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    for scale, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} B"
