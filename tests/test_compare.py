"""The paired comparison engine on a fake machine: deterministic, no real clock anywhere."""

from __future__ import annotations

import math
import random

import pytest

from birnn_bench import compare as cmp


class FakeMachine:
    """A clock whose speed drifts: every ``period`` fake seconds the machine becomes between 1x
    and ``drift``x slower (a whole process landing on a slow CPU, a noisy minute), and each call
    gets an independent jitter of +-``jitter``."""

    def __init__(self, drift: float = 3.0, period: float = 0.01, jitter: float = 0.005,
                 seed: int = 1) -> None:
        self.now = 0.0
        self.drift, self.period, self.jitter = drift, period, jitter
        self.rng = random.Random(seed)
        self._factors: dict[int, float] = {}

    def clock(self) -> float:
        return self.now

    def factor(self) -> float:
        slot = int(self.now / self.period)
        if slot not in self._factors:
            self._factors[slot] = 1 + (self.drift - 1) * random.Random(slot * 7919).random()
        return self._factors[slot]

    def call(self, cost: float):
        def run() -> None:
            noise = 1 + self.jitter * (2 * self.rng.random() - 1)
            self.now += cost * self.factor() * noise
        return run


def _engine(machine: FakeMachine, costs: dict[str, float], **kwargs) -> cmp.Comparison:
    calls = {name: machine.call(cost) for name, cost in costs.items()}
    return cmp.compare(calls, "base", clock=machine.clock, **kwargs)


def test_median_interval_uses_order_statistics() -> None:
    # n = 20 at 99%: P(Bin(20, 1/2) <= 3) = 0.0013 <= 0.005 < P(<= 4): the 4th and 17th values.
    values = list(range(1, 21))
    found = cmp.median_interval(values)
    assert (found.estimate, found.low, found.high) == (10.5, 4, 17)
    # n = 8 is the fewest with an interval at all: min..max.
    assert cmp.median_interval([3, 1, 2, 8, 5, 4, 7, 6]) == cmp.Interval(4.5, 1, 8)


def test_too_few_rounds_decide_nothing() -> None:
    # The old recommend called a single-sample difference "significant".
    found = cmp.median_interval([2.0, 2.1, 1.9])
    assert found.low == 0.0 and math.isinf(found.high)
    assert not found.significant and found.verdict == "tied"
    assert math.isinf(found.half_width)


def test_verdicts_follow_the_one_rule() -> None:
    assert cmp.Interval(0.9, 0.85, 0.95).verdict == "faster"
    assert cmp.Interval(1.1, 1.02, 1.2).verdict == "slower"
    assert cmp.Interval(1.01, 0.98, 1.04).verdict == "tied"


def test_paired_ratio_resolves_5_percent_under_3x_drift() -> None:
    machine = FakeMachine(drift=3.0)
    found = _engine(machine, {"base": 0.001, "slow": 0.00105, "fast": 0.0008},
                    budget_s=30.0)
    slow, fast = found.ratios["slow"].ratio, found.ratios["fast"].ratio
    assert slow.verdict == "slower" and 1.03 < slow.estimate < 1.07
    assert fast.verdict == "faster" and 0.78 < fast.estimate < 0.82
    # A/A: the baseline against itself is tied, and narrow despite the drift.
    assert found.resolution.verdict == "tied"
    assert found.resolution.half_width <= cmp.TARGET
    assert found.ratios["base"].ratio == found.resolution
    assert found.stopped == "target"
    # ... while the machine's speed moved by far more than the 5% being resolved.
    assert max(machine._factors.values()) / min(machine._factors.values()) > 2


def test_far_candidates_drop_out_after_min_rounds() -> None:
    # A quiet machine; one candidate is erratic by itself and keeps the comparison going.
    machine = FakeMachine(drift=1.0, jitter=0.0001)
    erratic = random.Random(3)

    def noisy() -> None:
        machine.now += 0.001 * (1 + 0.2 * erratic.random())

    calls = {"base": machine.call(0.001), "far": machine.call(0.006), "noisy": noisy}
    found = cmp.compare(calls, "base", clock=machine.clock, budget_s=30.0, target=0.005,
                        decided_target=0.01)
    assert found.ratios["far"].rounds == cmp.MIN_ROUNDS
    assert found.ratios["noisy"].rounds > cmp.MIN_ROUNDS
    assert 5.8 < found.ratios["far"].ratio.estimate < 6.2


def test_budget_stops_an_undecidable_comparison_with_an_interval() -> None:
    machine = FakeMachine(drift=3.0, jitter=0.3)
    found = _engine(machine, {"base": 0.001, "other": 0.001}, budget_s=0.5, target=1e-6)
    assert found.stopped == "budget"
    assert found.rounds >= cmp.MIN_ROUNDS
    assert math.isfinite(found.ratios["other"].ratio.high)
    assert found.seconds >= 0.5


def test_calibration_fills_short_blocks() -> None:
    machine = FakeMachine(drift=1.0, jitter=0.0)
    found = _engine(machine, {"base": 0.0001, "slow": 0.01}, budget_s=5.0)
    assert found.ratios["base"].calls_per_block == 20  # 2 ms / 0.1 ms
    assert found.ratios["slow"].calls_per_block == 1
    assert found.ratios["slow"].seconds == pytest.approx(0.01)


def test_same_seed_same_answer() -> None:
    first = _engine(FakeMachine(), {"base": 0.001, "b": 0.0011}, budget_s=5.0)
    second = _engine(FakeMachine(), {"base": 0.001, "b": 0.0011}, budget_s=5.0)
    assert first == second


def test_sync_runs_around_every_block() -> None:
    machine = FakeMachine(drift=1.0)
    synced: list[float] = []
    _engine(machine, {"base": 0.001, "b": 0.001}, budget_s=1.0,
            sync=lambda: synced.append(machine.now))
    assert len(synced) >= 2 * 3 * cmp.MIN_ROUNDS


@pytest.mark.parametrize("kwargs, message", [
    ({"budget_s": float("nan")}, "budget_s"),
    ({"budget_s": float("inf")}, "budget_s"),
    ({"target": -1}, "target"),
    ({"block_s": 0}, "block_s"),
    ({"min_rounds": 3}, "rounds"),
])
def test_bad_settings_are_refused_before_any_timing(kwargs: dict, message: str) -> None:
    machine = FakeMachine()
    with pytest.raises(ValueError, match=message):
        _engine(machine, {"base": 0.001}, **kwargs)
    assert machine.now == 0.0


def test_unknown_baseline_is_refused() -> None:
    with pytest.raises(ValueError, match="baseline"):
        cmp.compare({"a": lambda: None}, "base")


def test_two_blocks_per_round_keep_the_a_a_unbiased() -> None:
    # Every entry, the baseline included, counts its fastest block: the A/A stays at 1.
    machine = FakeMachine(drift=3.0)
    found = _engine(machine, {"base": 0.001, "slow": 0.0011}, budget_s=30.0, blocks=2)
    assert found.resolution.verdict == "tied"
    assert 1.08 < found.ratios["slow"].ratio.estimate < 1.12
    assert found.settings["blocks"] == 2
