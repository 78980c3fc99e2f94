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
    assert not found.significant and not found.resolves
    assert math.isinf(found.half_width)
    # As an A/A it resolves nothing: every verdict against it is "unresolved".
    assert cmp.verdict(cmp.Interval(0.5, 0.4, 0.6), found) == "unresolved"


NARROW = cmp.Interval(1.0, 0.99, 1.012)  # an A/A that resolves: tied, within +-2%


def test_verdicts_follow_the_one_rule() -> None:
    assert cmp.verdict(cmp.Interval(0.9, 0.85, 0.95), NARROW) == "faster"
    assert cmp.verdict(cmp.Interval(1.1, 1.02, 1.2), NARROW) == "slower"
    assert cmp.verdict(cmp.Interval(1.01, 0.98, 1.04), NARROW) == "tied"


@pytest.mark.parametrize("aa", [
    cmp.Interval(1.0, 0.97, 1.04),   # wider than +-2%: could not tell a few percent
    cmp.Interval(1.03, 1.01, 1.04),  # narrow but significant: the A/A itself is off
    cmp.Interval(1.012, 0.998, 1.026),  # half-width 1.4% but reaching 2.6% past 1
    None,                            # no A/A at all
])
def test_noise_is_never_called_a_decision(aa) -> None:
    # The recommend seen on a busy box: A/A [0.93, 1.01], packed_unpack "slower" at 1.04x
    # [1.02, 1.11]: with such an A/A the engine could not tell, so it says so.
    assert cmp.verdict(cmp.Interval(1.04, 1.02, 1.11), aa) == "unresolved"
    assert cmp.verdict(cmp.Interval(0.5, 0.45, 0.55), aa) == "unresolved"
    assert aa is None or not aa.resolves


def test_paired_ratio_resolves_5_percent_under_3x_drift() -> None:
    machine = FakeMachine(drift=3.0)
    found = _engine(machine, {"base": 0.001, "slow": 0.00105, "fast": 0.0008},
                    budget_s=30.0)
    slow, fast = found.ratios["slow"].ratio, found.ratios["fast"].ratio
    assert found.verdict("slow") == "slower" and 1.03 < slow.estimate < 1.07
    assert found.verdict("fast") == "faster" and 0.78 < fast.estimate < 0.82
    # A/A: the baseline against itself is tied, and narrow despite the drift.
    assert found.resolved and found.verdict("base") == "A/A"
    assert found.resolution.inside(cmp.AA_TARGET)
    assert found.ratios["base"].ratio == found.resolution
    assert found.stopped == "target"
    # ... while the machine's speed moved by far more than the 5% being resolved.
    assert max(machine._factors.values()) / min(machine._factors.values()) > 2


def test_far_candidates_drop_out_after_min_rounds() -> None:
    # A quiet machine; one candidate is erratic by itself and keeps the comparison going.
    machine = FakeMachine(drift=1.0, jitter=0.0001)
    erratic = random.Random(3)

    def noisy() -> None:  # centred on the baseline: never clear of 1, never narrow
        machine.now += 0.001 * (1 + 0.2 * (erratic.random() - 0.5))

    calls = {"base": machine.call(0.001), "far": machine.call(0.006), "noisy": noisy}
    found = cmp.compare(calls, "base", clock=machine.clock, budget_s=30.0, target=0.005,
                        decided_target=0.01)
    assert found.ratios["far"].rounds == cmp.MIN_ROUNDS
    assert found.ratios["noisy"].rounds > cmp.MIN_ROUNDS
    assert 5.8 < found.ratios["far"].ratio.estimate < 6.2


def test_wrong_and_clear_candidates_leave_so_the_open_ones_get_the_rounds() -> None:
    # "wrong" is timed for the minimum rounds only (brief: shown, never decided); "slow3x" is
    # clear of 1 beyond CLEAR whatever its width; "close" (2% apart) needs many rounds.
    machine = FakeMachine(drift=1.0, jitter=0.02)
    found = _engine(machine, {"base": 0.001, "wrong": 0.0009, "slow3x": 0.003,
                              "close": 0.00102}, budget_s=60.0, brief=["wrong"], target=0.005)
    assert found.ratios["wrong"].rounds == cmp.MIN_ROUNDS
    assert found.ratios["slow3x"].rounds == cmp.MIN_ROUNDS
    assert found.ratios["close"].rounds > cmp.MIN_ROUNDS
    assert found.settings["brief"] == ["wrong"]


def test_times_beside_a_ratio_come_from_the_same_rounds() -> None:
    # A machine that slows down 2x after the first rounds: a candidate that left early must not
    # be shown beside the baseline's time over ALL rounds (it would look 2x too fast).
    machine = FakeMachine(drift=1.0, jitter=0.0)
    state = {"calls": 0}

    def base() -> None:  # 4 calls a round (two 2-call blocks: base, A/A): 2x after 10 rounds
        state["calls"] += 1
        machine.now += 0.001 * (2.0 if state["calls"] > 2 + 4 * 10 else 1.0)

    erratic = random.Random(5)

    def close() -> None:  # never narrow, never significant: it runs to the budget
        machine.now += 0.001 * (1 + 0.2 * (erratic.random() - 0.5))

    calls = {"base": base, "far": machine.call(0.006), "close": close}
    found = cmp.compare(calls, "base", clock=machine.clock, budget_s=2.0, target=1e-9)
    far = found.ratios["far"]
    assert far.rounds == cmp.MIN_ROUNDS
    # far ran while the baseline took 1 ms; close ran on, mostly while it took 2 ms.
    assert far.baseline_seconds == pytest.approx(0.001)
    assert far.ratio.estimate == pytest.approx(6.0)
    assert found.ratios["close"].baseline_seconds == pytest.approx(0.002)


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
    assert found.resolved
    assert 1.08 < found.ratios["slow"].ratio.estimate < 1.12
    assert found.settings["blocks"] == 2


def test_a_slow_workload_gets_its_rounds_past_the_budget_but_not_forever() -> None:
    # A call of 0.1 s: the budget (1 s) alone would stop it at the 16th round; budget_rounds
    # lets it run to 40 (its A/A resolves on this quiet fake machine, so it stops there).
    quiet = FakeMachine(drift=1.0, jitter=0.001)
    slow = {"base": 0.1, "other": 0.1}
    found = _engine(quiet, slow, budget_s=1.0, min_rounds=16, aa_target=1e-9,
                    budget_rounds=40, max_seconds=1000.0)
    assert found.stopped == "budget" and found.rounds == 40 and found.resolved
    # A disturbed stretch (30% jitter): an A/A that cannot tell yet runs on past the budget and
    # the budget rounds, but never past max_seconds.
    noisy = _engine(FakeMachine(drift=1.0, jitter=0.3), slow, budget_s=1.0, min_rounds=16,
                    aa_target=1e-9, budget_rounds=40, max_seconds=30.0)
    assert noisy.stopped == "budget" and noisy.rounds > 40 and 30.0 <= noisy.seconds < 32.0
    assert noisy.settings["max_seconds"] == 30.0 and noisy.settings["budget_rounds"] == 40
    # By default there is no extension: the budget is the budget.
    plain = _engine(FakeMachine(drift=1.0, jitter=0.3), slow, budget_s=4.0, min_rounds=16,
                    aa_target=1e-9)
    assert plain.stopped == "budget" and plain.settings["max_seconds"] == 4.0
    assert plain.rounds == 16  # the budget was spent within the minimum rounds
    with pytest.raises(ValueError, match="max_seconds"):
        _engine(FakeMachine(), {"base": 0.001}, budget_s=5.0, max_seconds=1.0)


def test_brief_and_clear_candidates_leave_at_the_engines_minimum() -> None:
    # With min_rounds 16, a wrong (brief) candidate and a clear 3x one still leave at 8: their
    # ratios are shown, not decided; the open decision (a 1% difference) gets the rounds.
    machine = FakeMachine(drift=1.0, jitter=0.01)
    found = _engine(machine, {"base": 0.001, "wrong": 0.0005, "slow3x": 0.003,
                              "close": 0.00101}, budget_s=60.0, min_rounds=16, target=0.002,
                    brief=["wrong"])
    assert found.ratios["wrong"].rounds == cmp.MIN_ROUNDS
    assert found.ratios["slow3x"].rounds == cmp.MIN_ROUNDS
    assert found.ratios["close"].rounds >= 16


def test_the_a_a_leaves_only_with_its_whole_interval_inside_its_target() -> None:
    """The A/A stops on both bounds inside 1 +- aa_target, not on its half-width: an interval
    of half-width 1.4% centred 1.2% off 1 reaches 2.6% past it and resolves nothing."""
    off_centre = cmp.Interval(1.012, 0.998, 1.026)
    assert off_centre.half_width < cmp.RESOLVED and not off_centre.resolves
    assert off_centre.off_one == pytest.approx(0.026) and not off_centre.inside(0.02)
    assert cmp.Interval(1.0, 0.99, 1.012).inside(0.015)
    assert math.isinf(cmp.Interval(1.0, 0.0, math.inf).off_one)
    # Fake machines of several seeds (5% jitter, drift): every A/A that stopped on target is
    # inside its target, and so is every resolved comparison's.
    for seed in range(12):
        found = _engine(FakeMachine(drift=1.5, jitter=0.05, seed=seed),
                        {"base": 0.001, "other": 0.00103}, budget_s=60.0, min_rounds=16,
                        aa_target=0.01)
        assert found.stopped == "target", seed
        assert found.resolution.inside(0.01) and found.resolved, seed
