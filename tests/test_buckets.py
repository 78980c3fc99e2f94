"""The bucketed strategy's cost model: the plan is the exact optimum, the fit recovers known
constants, the measurement times what it says (a fake clock)."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from birnn_bench import bench
from birnn_bench.buckets import DEFAULT_COSTS, BucketCosts, fit_costs, plan_buckets, plan_cost
from birnn_bench.workload import WorkloadSpec


def brute_force_cost(sorted_lengths: list[int], costs: BucketCosts) -> float:
    """O(B^2) dynamic programme over every cut point, equal lengths split or not."""
    best = [0.0] + [math.inf] * len(sorted_lengths)
    for end in range(1, len(sorted_lengths) + 1):
        for start in range(end):
            best[end] = min(best[end], best[start] + costs.bucket(end - start,
                                                                  sorted_lengths[start]))
    return best[-1]


constants = st.one_of(st.just(0.0), st.floats(1e-7, 1e-3))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(1, 60), min_size=1, max_size=40), constants, constants, constants)
def test_the_plan_is_the_exact_optimum(lengths, per_call, per_step, per_token) -> None:
    sorted_lengths = sorted(lengths, reverse=True)
    costs = BucketCosts(per_call, per_step, per_token)
    cuts = plan_buckets(sorted_lengths, per_call, per_step, per_token)
    assert cuts[0] == 0 and cuts[-1] == len(sorted_lengths)
    assert all(a < b for a, b in itertools.pairwise(cuts))
    # Equal lengths never straddle a cut.
    assert all(sorted_lengths[c - 1] != sorted_lengths[c] for c in cuts[1:-1])
    want = brute_force_cost(sorted_lengths, costs)
    assert plan_cost(sorted_lengths, cuts, costs) == pytest.approx(want, rel=1e-9, abs=1e-15)


def test_the_plan_at_its_extremes() -> None:
    lengths = [9, 9, 7, 4, 4, 4, 1]
    assert plan_buckets(lengths, 1.0, 0.0, 0.0) == [0, 7]  # calls dear: one bucket
    assert plan_buckets(lengths, 0.0, 0.0, 1.0) == [0, 2, 3, 6, 7]  # calls free: one per length
    assert plan_buckets([5], 1.0, 1.0, 1.0) == [0, 1]
    assert plan_buckets([3, 3, 3], 0.0, 0.0, 1.0) == [0, 3]


def test_a_long_tail_is_cut_off_with_the_shipped_costs() -> None:
    # One long sequence among short ones: padding the short ones to it costs more than a call.
    lengths = [512] + [20] * 15
    cuts = plan_buckets(lengths, *_as_args(DEFAULT_COSTS["LSTM"]))
    assert cuts == [0, 1, 16]


def _as_args(costs: BucketCosts) -> tuple[float, float, float]:
    return costs.per_call, costs.per_step, costs.per_token


def test_fit_recovers_known_constants() -> None:
    truth = BucketCosts(per_call=4e-4, per_step=3e-6, per_token=4e-6)
    samples = [(b, t, truth.bucket(b, t)) for b, t in bench.BUCKET_SIZES]
    fitted = fit_costs(samples)
    for name in ("per_call", "per_step", "per_token"):
        assert getattr(fitted, name) == pytest.approx(getattr(truth, name), rel=1e-6)


def test_fit_never_returns_a_negative_constant() -> None:
    # Time that falls with the step count: the unconstrained fit would give per_step < 0.
    samples = [(1, 32, 2e-3), (1, 128, 1e-3), (16, 32, 3e-3), (16, 128, 9e-3)]
    fitted = fit_costs(samples)
    assert min(fitted.per_call, fitted.per_step, fitted.per_token) >= 0


@pytest.mark.parametrize(("samples", "match"), [
    ([(1, 32, 1e-3), (16, 32, 2e-3)], "at least 3"),
    ([(1, 32, 1e-3), (16, 32, 2e-3), (0, 5, 1e-3)], r"\(0, 5"),
    ([(1, 32, 1e-3), (16, 32, 2e-3), (2, 5, float("nan"))], "seconds"),
    ([(1, 32, 1e-3), (16, 32, 2e-3), (2, 5, 0.0)], "seconds"),
])
def test_fit_refuses_bad_samples(samples, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit_costs(samples)


@pytest.mark.parametrize("bad", [-1.0, float("inf"), float("nan"), "1"])
def test_costs_refuse_what_is_not_a_finite_non_negative_number(bad) -> None:
    with pytest.raises(ValueError, match="per_step"):
        BucketCosts(per_call=1e-4, per_step=bad, per_token=1e-6)


def test_every_rnn_mode_has_shipped_costs() -> None:
    assert set(DEFAULT_COSTS) == {"LSTM", "GRU", "RNN_TANH", "RNN_RELU"}


def test_bucket_samples_keep_the_best_of_interleaved_rounds() -> None:
    # A fake clock: each timed call lasts the next value of `durations`, in call order
    # (rounds outer, sizes inner), so the best per size is known.
    sizes = ((1, 3), (2, 3), (2, 5))
    durations = iter([5.0, 7.0, 9.0,  # round 1
                      4.0, 8.0, 6.0,  # round 2
                      6.0, 7.5, 9.5])  # round 3
    now = [0.0]
    starting = [True]

    def clock() -> float:
        if not starting[0]:
            now[0] += next(durations)
        starting[0] = not starting[0]
        return now[0]

    spec = WorkloadSpec(cell="gru", hidden_size=4, input_size=3)
    samples = bench.bucket_samples(spec, sizes, repeats=3, clock=clock)
    assert samples == [(1, 3, 4.0), (2, 3, 7.0), (2, 5, 6.0)]


def test_measure_bucket_costs_gives_constants_and_refuses_bad_arguments() -> None:
    spec = WorkloadSpec(cell="lstm", hidden_size=4, input_size=3)
    costs = bench.measure_bucket_costs(spec, ((1, 2), (1, 4), (3, 2), (3, 4)), repeats=2)
    assert isinstance(costs, BucketCosts)
    with pytest.raises(ValueError, match="repeats"):
        bench.bucket_samples(spec, repeats=0)
    with pytest.raises(ValueError, match="sizes"):
        bench.bucket_samples(spec, ((0, 4),), repeats=1)
