"""The paired comparison engine: the project's one significance rule.

Candidates of ONE workload are timed in one process, in short interleaved blocks in a shuffled
order, and each candidate's time is divided by the baseline's time of the same round (machine
drift cancels). The estimate is the median of those per-round ratios with a distribution-free
99% interval; the baseline against itself in the same rounds (A/A) gives the resolution.

The one rule (``verdict``): a comparison is *resolved* when its A/A is not significant and its
whole interval lies inside 1 +- ``RESOLVED`` (the engine could tell a few-percent difference); then
a ratio whose interval excludes 1 is faster or slower, any other is tied; an unresolved comparison
decides nothing ("unresolved"). No global state changes here: callers pin threads and precision
(``measure.pinned``)."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CONFIDENCE = 0.99
#: The fewest rounds whose min..max covers the median at 99% (2 * 0.5**8 < 0.01).
MIN_ROUNDS = 8
#: Rounds after which the 99% interval runs from the 3rd to the 14th value, so one or two
#: disturbed rounds no longer move it. The suite and the resolution check use it.
ROBUST_ROUNDS = 16
#: A comparison whose A/A interval reaches beyond 1 +- this could not tell a few-percent
#: difference: it decides nothing (``verdict``). A 5% slowdown stands clear of an A/A this narrow.
#: Both bounds count, not the half-width: an A/A of +-1.5% centred 1.3% off 1 reaches 2.8% off.
RESOLVED = 0.02
#: A candidate stops once its half-width is within TARGET, or within DECIDED_TARGET when it is
#: significantly apart from the baseline; the A/A once its whole interval lies inside
#: 1 +- AA_TARGET (under RESOLVED: a resolution claimed with room to spare; A/A-only rounds cost
#: two blocks). Two runs of the same code differed by up to 6% where candidates had left at
#: +-3.4-5.4% (B1 T32 regimes): DECIDED_TARGET is 3%.
TARGET = 0.02
DECIDED_TARGET = 0.03
AA_TARGET = 0.015
#: A candidate whose interval lies beyond 1 +- CLEAR, and within DECIDED_TARGET, may leave
#: after MIN_ROUNDS (a 3x strategy needs no 16 rounds to be called slower): its rounds go to
#: the open decisions.
CLEAR = 2 * RESOLVED
#: A block is repeated calls of one candidate lasting about this long (on the 2-core box 2 ms
#: blocks over 200 rounds resolved 3%; 20 ms blocks did not).
BLOCK_SECONDS = 0.002
#: Blocks of each entry per round, the fastest counting (two gave no narrower intervals).
BLOCKS = 1
AA_SUFFIX = " (A/A)"

Clock = Callable[[], float]


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """The one rule: the interval excludes 1."""
        return self.low > 1.0 or self.high < 1.0

    @property
    def half_width(self) -> float:
        """Half the interval's width relative to the estimate (inf when undecided)."""
        if not math.isfinite(self.high) or self.estimate <= 0:
            return math.inf
        return (self.high - self.low) / 2 / self.estimate

    @property
    def clear(self) -> bool:
        """Significant beyond doubt: the interval lies outside 1 +- ``CLEAR``."""
        return self.low > 1.0 + CLEAR or self.high < 1.0 - CLEAR

    @property
    def off_one(self) -> float:
        """How far the farther bound lies from 1 (inf when undecided)."""
        if not (math.isfinite(self.high) and self.low > 0):
            return math.inf
        return max(1.0 - self.low, self.high - 1.0)

    def inside(self, tolerance: float) -> bool:
        """Both bounds inside 1 +- ``tolerance`` (round-off forgiven)."""
        return self.off_one <= tolerance * (1 + 1e-9)

    @property
    def resolves(self) -> bool:
        """As an A/A: not significant, and inside 1 +- ``RESOLVED``: it could tell a few
        percent."""
        return not self.significant and self.inside(RESOLVED)


def verdict(ratio: Interval, resolution: Interval | None) -> str:
    """The one rule: "unresolved" when the A/A (``resolution``) could not tell (missing, wide or
    itself significant); else "faster" / "slower" when the interval excludes 1, else "tied"."""
    if resolution is None or not resolution.resolves:
        return "unresolved"
    if not ratio.significant:
        return "tied"
    return "faster" if ratio.high < 1.0 else "slower"


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Median with a distribution-free interval: the k-th smallest and k-th largest value, k the
    largest with P(Binomial(n, 1/2) < k) <= (1 - confidence) / 2. With too few values for
    ``confidence`` the interval is (0, inf): undecided."""
    ordered = sorted(float(v) for v in values)
    if not ordered:
        raise ValueError("median_interval: no values")
    n = len(ordered)
    middle = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2
    cdf, k = 0, 0
    while k < n:
        cdf += math.comb(n, k)
        if cdf / 2**n > (1 - confidence) / 2:
            break
        k += 1
    if k == 0:
        return Interval(middle, 0.0, math.inf)
    return Interval(middle, ordered[k - 1], ordered[n - k])


def change(before: Interval, now: Interval, tolerance: float = 0.0) -> str:
    """The rule across commits (two processes, so no A/A of their own): "slower" / "faster" when
    the conservative interval of ``now / before`` lies beyond 1 +- ``tolerance``, the
    process-level A/A (how far the same code's ratio moves from one process to the next); else
    "tied". Undecided intervals (0 or infinite bounds) are "tied"."""
    values = (before.estimate, before.low, before.high, now.estimate, now.low, now.high)
    if not all(math.isfinite(v) and v > 0 for v in values):
        return "tied"
    low, high = now.low / before.high, now.high / before.low
    if low > 1.0 + tolerance:
        return "slower"
    return "faster" if high < 1.0 - tolerance else "tied"


@dataclass(frozen=True)
class PairedRatio:
    """One candidate's time over the baseline's, taken per round."""

    name: str
    ratio: Interval
    seconds: float  # median time of one call over the rounds it ran in
    rounds: int
    calls_per_block: int
    baseline_seconds: float  # the baseline's median time over the SAME rounds


@dataclass(frozen=True)
class Comparison:
    baseline: str
    resolution: Interval  # the baseline against itself (A/A), in the same rounds
    ratios: dict[str, PairedRatio]  # every candidate, the baseline's entry being its A/A
    rounds: int
    seconds: float  # wall time spent, calibration included
    stopped: str  # "target": every interval narrow enough; "budget"; "max_rounds"
    confidence: float = CONFIDENCE
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def resolved(self) -> bool:
        return self.resolution.resolves

    def verdict(self, name: str) -> str:
        """``name``'s verdict against the baseline by the one rule; "A/A" for the baseline."""
        if name == self.baseline:
            return "A/A"
        return verdict(self.ratios[name].ratio, self.resolution)


def time_block(fn: Callable[[], object], number: int, clock: Clock,
               sync: Callable[[], None]) -> float:
    """Seconds per call of ``fn`` over ``number`` calls in a row, ``sync`` run around them."""
    sync()
    start = clock()
    for _ in range(number):
        fn()
    sync()
    return (clock() - start) / number


def compare(candidates: Mapping[str, Callable[[], object]], baseline: str, *,
            target: float = TARGET, decided_target: float = DECIDED_TARGET,
            aa_target: float = AA_TARGET, budget_s: float = 10.0,
            block_s: float = BLOCK_SECONDS, blocks: int = BLOCKS,
            min_rounds: int = MIN_ROUNDS, max_rounds: int = 2000, seed: int = 0,
            confidence: float = CONFIDENCE, clock: Clock = time.perf_counter,
            sync: Callable[[], None] | None = None, brief: Collection[str] = (),
            budget_rounds: int = 0, max_seconds: float | None = None,
            progress: Callable[[int, int, float], None] | None = None) -> Comparison:
    """Times ``candidates`` (name -> zero-argument call) against ``candidates[baseline]``.

    Every round runs ``blocks`` blocks of each open candidate, the baseline and the A/A in a
    shuffled order. A ``brief`` candidate (e.g. wrong on this workload: its ratio is shown,
    never decided), and one clear of 1 beyond ``CLEAR`` within ``decided_target``, leave after
    ``MIN_ROUNDS`` (the fewest with an interval); after ``min_rounds`` a candidate leaves once
    within ``target``, or within ``decided_target`` and significant; the A/A once its interval
    lies inside 1 +- ``aa_target`` (``Interval.inside``). So the rounds go where a decision is
    still open.

    The comparison stops when all have left; when ``budget_s`` is spent, checked after
    ``min_rounds`` and ``budget_rounds`` (so that a slow workload still gets that many rounds)
    and only once the A/A resolves; when ``max_seconds`` is spent (default: ``budget_s``, no
    extension), checked after ``min_rounds``; or after ``max_rounds``. ``sync`` runs around
    each block; ``progress`` is told (rounds done, candidates still running, seconds) after
    each round."""
    if baseline not in candidates:
        raise ValueError(f"baseline: {baseline!r} is not among the candidates "
                         f"{sorted(candidates)}")
    for name, value in (("target", target), ("decided_target", decided_target),
                        ("aa_target", aa_target), ("budget_s", budget_s), ("block_s", block_s)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    max_seconds = budget_s if max_seconds is None else max_seconds
    if not (isinstance(max_seconds, (int, float)) and max_seconds >= budget_s):
        raise ValueError(f"max_seconds: expected a number >= budget_s, got {max_seconds!r}")
    if not isinstance(budget_rounds, int) or budget_rounds < 0:
        raise ValueError(f"budget_rounds: expected an integer >= 0, got {budget_rounds!r}")
    if not isinstance(blocks, int) or blocks < 1:
        raise ValueError(f"blocks: expected an integer >= 1, got {blocks!r}")
    if min_rounds < MIN_ROUNDS or max_rounds < min_rounds:
        raise ValueError(f"rounds: need {MIN_ROUNDS} <= min_rounds <= max_rounds, got "
                         f"{min_rounds} and {max_rounds}")
    sync = sync or (lambda: None)
    started = clock()
    aa = baseline + AA_SUFFIX
    calls = {**candidates, aa: candidates[baseline]}
    number: dict[str, int] = {}
    for name, fn in candidates.items():  # calls per block of about block_s, after a warm-up
        fn()
        once = max(time_block(fn, 1, clock, sync), 1e-9)
        number[name] = max(1, min(10_000, round(block_s / once)))
    number[aa] = number[baseline]
    times: dict[str, list[float]] = {name: [] for name in calls}
    ratios: dict[str, list[float]] = {name: [] for name in calls if name != baseline}
    # The rounds each entry ran in, so that its time sits beside the baseline's of those rounds.
    ran_in: dict[str, list[int]] = {name: [] for name in calls}
    active = [name for name in candidates if name != baseline]
    rng = random.Random(seed)
    stopped, aa_open = "max_rounds", True
    for rounds in range(1, max_rounds + 1):
        # Open entries in a random order (none always follows the same one); an entry's time is
        # the fastest of its blocks (a preempted block is slow, never fast).
        order = [baseline, *([aa] if aa_open else []), *active] * blocks
        rng.shuffle(order)
        this_round: dict[str, float] = {}
        for name in order:
            seconds = time_block(calls[name], number[name], clock, sync)
            this_round[name] = min(seconds, this_round.get(name, math.inf))
        for name, seconds in this_round.items():
            times[name].append(seconds)
            ran_in[name].append(rounds - 1)
            if name != baseline:
                ratios[name].append(seconds / this_round[baseline])
        if rounds >= MIN_ROUNDS:
            intervals = {name: median_interval(ratios[name], confidence) for name in active}
            active = [name for name, ratio in intervals.items()
                      if name not in brief
                      and not (ratio.clear and ratio.half_width <= decided_target)
                      and (rounds < min_rounds or (ratio.half_width > target and not (
                          ratio.significant and ratio.half_width <= decided_target)))]
        if rounds >= min_rounds:
            resolution = median_interval(ratios[aa], confidence)
            aa_open = resolution.significant or not resolution.inside(aa_target)
            spent = clock() - started
            if not active and not aa_open:
                stopped = "target"
                break
            # Past the budget (and budget_rounds) a comparison whose A/A cannot tell yet runs
            # on to max_seconds: a disturbed stretch is outlasted rather than reported.
            if spent >= max_seconds or (spent >= budget_s and rounds >= budget_rounds
                                        and resolution.resolves):
                stopped = "budget"
                break
        if progress is not None:
            progress(rounds, len(active), clock() - started)

    def median(values: Sequence[float]) -> float:
        return median_interval(values, confidence).estimate

    def paired(name: str, key: str) -> PairedRatio:
        base = [times[baseline][i] for i in ran_in[key]]
        return PairedRatio(name=name, ratio=median_interval(ratios[key], confidence),
                           seconds=median(times[name]), rounds=len(ratios[key]),
                           calls_per_block=number[name], baseline_seconds=median(base))

    results = {name: paired(name, aa if name == baseline else name) for name in candidates}
    return Comparison(
        baseline=baseline, resolution=results[baseline].ratio, ratios=results, rounds=rounds,
        seconds=clock() - started, stopped=stopped, confidence=confidence,
        settings={"target": target, "decided_target": decided_target, "aa_target": aa_target,
                  "budget_s": budget_s, "brief": sorted(brief),
                  "block_s": block_s, "blocks": blocks, "min_rounds": min_rounds,
                  "max_rounds": max_rounds, "budget_rounds": budget_rounds,
                  "max_seconds": max_seconds, "seed": seed})
